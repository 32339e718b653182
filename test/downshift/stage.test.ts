import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { JsonObject } from '../../gateway/context.js';
import { classifyTaskKind } from '../../gateway/downshift/task-kind.js';
import { DownshiftRules } from '../../policies/downshift/rules.js';
import { capMaxTokens, downshiftStage } from '../../gateway/stages/downshift.js';
import { parseDownshiftRules } from '../../policies/downshift/load.js';
import { fakeContext } from './fake-context.js';
import { gooseRequests, shellTool } from './goose-requests.js';


describe('task kind fingerprints', () => {
  it('recognises Goose auxiliary requests', () => {
    assert.equal(classifyTaskKind(gooseRequests.turn, {}), 'chat');
    assert.equal(classifyTaskKind(gooseRequests.compaction, {}), 'compaction');
    assert.equal(classifyTaskKind(gooseRequests.naming, {}), 'title');
    assert.equal(classifyTaskKind(gooseRequests.permission, {}), 'permission');
  });

  it('a tool-less request is auxiliary only when it comes from a Goose session', () => {
    const plain = { model: 'm', messages: [{ role: 'user', content: 'hi' }] };
    assert.equal(classifyTaskKind(plain, {}), 'chat');
    assert.equal(classifyTaskKind(plain, { 'agent-session-id': '20251108_1' }), 'auxiliary');
    assert.equal(classifyTaskKind({ ...plain, tools: [] }, { 'agent-session-id': '20251108_1' }), 'auxiliary');
  });

  it('compaction needs the exact single user message; more turns make it a chat', () => {
    const twoTurns = { ...gooseRequests.compaction, messages: [...gooseRequests.compaction.messages, { role: 'assistant', content: 'ok' }] };
    assert.equal(classifyTaskKind(twoTurns, {}), 'chat');
    const withTools = { ...gooseRequests.compaction, tools: [shellTool] };
    assert.equal(classifyTaskKind(withTools, {}), 'chat');
    const parts = { ...gooseRequests.compaction, messages: [{ role: 'user', content: [{ type: 'text', text: 'Please summarize the conversation history provided in the system prompt.' }] }] };
    assert.equal(classifyTaskKind(parts, {}), 'compaction');
  });

  it('the header wins when well-formed and is ignored otherwise', () => {
    assert.equal(classifyTaskKind(gooseRequests.turn, { 'x-switchboard-task-kind': 'Summary' }), 'summary');
    assert.equal(classifyTaskKind(gooseRequests.compaction, { 'x-switchboard-task-kind': 'no spaces allowed' }), 'compaction');
  });

  it('reads the Anthropic wire format too (top-level system, tools with name)', () => {
    const naming = { model: 'claude', system: 'Generate a short title (four words or less) that describes…', messages: [{ role: 'user', content: 'hi' }] };
    assert.equal(classifyTaskKind(naming, {}), 'title');
    const permission = { model: 'claude', messages: [{ role: 'user', content: 'x' }], tools: [{ name: 'platform__tool_by_tool_permission', input_schema: {} }] };
    assert.equal(classifyTaskKind(permission, {}), 'permission');
  });
});

describe('downshift stage', () => {
  const rules = new DownshiftRules(
    parseDownshiftRules(
      {
        version: 1,
        tiers: { economy: 'google/gemini-2.5-flash' },
        rules: [
          { id: 'aux', match: { taskKinds: ['compaction', 'title'] }, action: { tier: 'economy', maxTokens: 512 } },
          { id: 'huge-prompts', match: { promptTokens: { min: 100 } }, action: { maxTokens: 100 } },
        ],
      },
      'test',
    ),
    (id) => ({ tier: id.startsWith('google/') ? 'economy' : 'standard' }),
  );
  let estimates = 0;
  const stage = downshiftStage({
    rules,
    estimatePromptTokens: (body) => {
      estimates++;
      return JSON.stringify(body.messages).length;
    },
  });

  it('substitutes the model, caps max tokens and records from/to/rule/reason', () => {
    const ctx = fakeContext({ body: structuredClone(gooseRequests.naming) });
    stage.run(ctx);
    assert.equal(ctx.body?.model, 'google/gemini-2.5-flash');
    assert.equal(ctx.body?.max_tokens, 512);
    assert.equal(ctx.notes.taskKind, 'title');
    assert.deepEqual(ctx.notes.downshift, {
      from: 'anthropic/claude-sonnet-4',
      to: 'google/gemini-2.5-flash',
      rule: 'aux',
      reason: 'task title → tier economy (google/gemini-2.5-flash); max tokens 4096→512',
    });
    assert.equal(ctx.requestedModel, 'anthropic/claude-sonnet-4');
  });

  it('leaves an unmatched request untouched but still records its task kind', () => {
    const body = structuredClone(gooseRequests.turn);
    body.messages = [{ role: 'user', content: 'hi' }];
    const ctx = fakeContext({ body });
    estimates = 0;
    stage.run(ctx);
    assert.deepEqual(ctx.body, body);
    assert.equal(ctx.notes.downshift, undefined);
    assert.equal(ctx.notes.taskKind, 'chat');
    assert.equal(estimates, 1);
  });

  it('a cap-only rule keeps the model', () => {
    const ctx = fakeContext({ body: structuredClone(gooseRequests.turn) });
    stage.run(ctx);
    assert.equal(ctx.body?.model, 'anthropic/claude-sonnet-4');
    assert.equal(ctx.body?.max_tokens, 100);
    assert.equal(ctx.notes.downshift?.rule, 'huge-prompts');
    assert.equal(ctx.notes.downshift?.to, 'anthropic/claude-sonnet-4');
  });

  it('without a rule file it only records the task kind', () => {
    const ctx = fakeContext({ body: structuredClone(gooseRequests.compaction) });
    downshiftStage({ rules: undefined, estimatePromptTokens: () => 0 }).run(ctx);
    assert.equal(ctx.notes.taskKind, 'compaction');
    assert.equal(ctx.body?.model, 'anthropic/claude-sonnet-4');
  });

  it('caps every output-limit field present, or adds max_tokens', () => {
    const both: JsonObject = { max_tokens: 50, max_completion_tokens: 9000 };
    capMaxTokens(both, 100);
    assert.deepEqual(both, { max_tokens: 50, max_completion_tokens: 100 });
    const none: JsonObject = {};
    capMaxTokens(none, 100);
    assert.deepEqual(none, { max_tokens: 100 });
  });
});
