/**
 * The role's extension allowlist enforced at the gateway, end to end: `up` as finance (allows
 * developer, memory, computercontroller, google_drive), real SDK clients, scripted upstream.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startUp, type RunningUp } from '../../bin/commands/up.js';
import { anthropicStream, openAiCompletion, openAiStream, startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { waitUntil } from '../support/wait.js';

const tool = (name: string) => ({ type: 'function' as const, function: { name, description: name, parameters: { type: 'object', properties: {} } } });

describe('extension allowlist at the gateway', () => {
  let upstream: ScriptedUpstream;
  let up: RunningUp;
  let dataDir: string;
  let client: OpenAI;

  const auditEvents = () =>
    (up.gateway.server.services.db().prepare('SELECT event FROM audit_events ORDER BY seq').all() as Array<{ event: string }>).map(
      (r) => JSON.parse(r.event) as { action: string; target: string; result: string; reason: string; traceId: string },
    );

  before(async () => {
    upstream = await startScriptedUpstream();
    dataDir = mkdtempSync(join(tmpdir(), 'sb-ext-allow-'));
    up = await startUp({ dataDir, port: '0', controllerPort: '0', role: 'finance', upstream: upstream.baseUrl, logLevel: 'silent' });
    client = new OpenAI({ baseURL: `${up.gateway.url}/v1`, apiKey: up.gateway.server.services.localToken, maxRetries: 0 });
  });
  after(async () => {
    await up.stop();
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('removes tools of disallowed extensions from the request and audits each extension removed', async () => {
    const before = upstream.received.length;
    await client.chat.completions.create({
      model: 'openai/gpt-4.1',
      messages: [{ role: 'user', content: 'post the numbers' }],
      tools: [tool('developer__shell'), tool('slack__post_message'), tool('slack__list_channels'), tool('agent_mesh__send_task'), tool('github__create_issue'), tool('plain_function')],
    });
    const sent = upstream.received[before]!.body as { tools: Array<{ function: { name: string } }> };
    assert.deepEqual(sent.tools.map((t) => t.function.name), ['developer__shell', 'agent_mesh__send_task', 'plain_function']);
    await waitUntil(() => auditEvents().filter((e) => e.action === 'extension.tools_removed').length === 2, 'two removal events');
    const removed = auditEvents().filter((e) => e.action === 'extension.tools_removed');
    assert.deepEqual(removed.map((e) => e.target).sort(), ['github', 'slack']);
    assert.match(removed.find((e) => e.target === 'slack')!.reason, /2 tool\(s\) of extension "slack" removed: not allowed for role finance/);
    assert.ok(removed.every((e) => e.result === 'denied'));
  });

  it('drops the tools field entirely when nothing is left', async () => {
    const before = upstream.received.length;
    await client.chat.completions.create({ model: 'openai/gpt-4.1', messages: [{ role: 'user', content: 'x' }], tools: [tool('slack__post_message')], tool_choice: 'auto' });
    const sent = upstream.received[before]!.body as Record<string, unknown>;
    assert.equal(sent.tools, undefined);
    assert.equal(sent.tool_choice, undefined);
  });

  it('refuses a tool call to a disallowed extension in a JSON answer', async () => {
    upstream.enqueue({ kind: 'json', body: openAiCompletion({ content: null, toolCalls: [{ id: 'c1', name: 'slack__post_message', argumentFragments: ['{"text":"hi"}'] }] }) });
    const answer = await client.chat.completions.create({ model: 'openai/gpt-4.1', messages: [{ role: 'user', content: 'x' }], tools: [tool('developer__shell')] });
    const choice = answer.choices[0]!;
    assert.equal(choice.message.tool_calls, undefined);
    assert.equal(choice.finish_reason, 'stop');
    assert.match(choice.message.content ?? '', /"slack" extension was refused: it is not allowed for role "finance"/);
    await waitUntil(() => auditEvents().some((e) => e.action === 'extension.call_refused' && e.target === 'slack'), 'refusal event');
  });

  it('streams: keeps allowed tool calls, drops refused ones, and says why when none is left', async () => {
    upstream.enqueue({
      kind: 'sse',
      events: openAiStream({
        toolCalls: [
          { id: 'a', name: 'developer__shell', argumentFragments: ['{"cmd":', '"ls"}'] },
          { id: 'b', name: 'google_calendar__create', argumentFragments: ['{"x":', '1}'] },
        ],
      }),
    });
    const mixed = await client.chat.completions.create({ model: 'openai/gpt-4.1', messages: [{ role: 'user', content: 'x' }], tools: [tool('developer__shell')], stream: true, stream_options: { include_usage: true } });
    const names: string[] = [];
    let args = '';
    let finish: string | null = null;
    for await (const chunk of mixed) {
      for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) {
        if (tc.function?.name) names.push(tc.function.name);
        args += tc.function?.arguments ?? '';
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.deepEqual(names, ['developer__shell']);
    assert.equal(args, '{"cmd":"ls"}');
    assert.equal(finish, 'tool_calls');

    upstream.enqueue({ kind: 'sse', events: openAiStream({ toolCalls: [{ id: 'c', name: 'slack__post_message', argumentFragments: ['{}'] }] }) });
    const refused = await client.chat.completions.create({ model: 'openai/gpt-4.1', messages: [{ role: 'user', content: 'x' }], stream: true });
    let text = '';
    let sawTool = false;
    finish = null;
    for await (const chunk of refused) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.choices[0]?.delta.tool_calls) sawTool = true;
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    assert.equal(sawTool, false);
    assert.equal(finish, 'stop');
    assert.match(text, /"slack" extension was refused/);
  });

  it('Anthropic streams: a refused tool_use block becomes text and the turn ends normally', async () => {
    upstream.enqueue({ kind: 'sse', events: anthropicStream({ textPieces: ['Sure. '], toolUse: { id: 'tu1', name: 'slack__post_message', jsonFragments: ['{"text":', '"hi"}'] } }) });
    const anthropic = new Anthropic({ baseURL: up.gateway.url, apiKey: up.gateway.server.services.localToken, maxRetries: 0 });
    const stream = anthropic.messages.stream({ model: 'openai/gpt-4.1', max_tokens: 100, messages: [{ role: 'user', content: 'x' }] });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'end_turn');
    assert.deepEqual(final.content.map((b) => b.type), ['text', 'text']);
    assert.match((final.content[1] as { text: string }).text, /"slack" extension was refused/);
  });
});
