import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { openAiStream, startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { DownshiftRulesError } from '../../policies/downshift/load.js';
import { gooseRequests } from './goose-requests.js';

const RULES = `
version: 1
tiers:
  economy: google/gemini-2.5-flash
rules:
  - id: goose-aux
    match: { taskKinds: [compaction, title] }
    action: { tier: economy, maxTokens: 1024 }
  - id: judge
    match: { taskKinds: [permission] }
    action: { model: openai/gpt-4o-mini }
`;

describe('downshift through the gateway with Goose-shaped requests', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;
  let dataDir: string;
  let client: OpenAI;

  before(async () => {
    upstream = await startScriptedUpstream();
    dataDir = mkdtempSync(join(tmpdir(), 'sb-downshift-'));
    writeFileSync(join(dataDir, 'downshift-rules.yaml'), RULES);
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, dataDir });
    // Goose's declarative provider: base_url .../goose/v1, agent-session-id on every call.
    client = new OpenAI({ baseURL: `${gw.url}/goose/v1`, apiKey: gw.token, maxRetries: 0, defaultHeaders: { 'agent-session-id': '20261125_7' } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('compaction goes to the economy model with a capped output; the stream stays consistent for Goose', async () => {
    upstream.setDefault((req) => {
      const model = (req.body as { model: string }).model;
      return { kind: 'sse', events: openAiStream({ model, contentPieces: ['Summary:', ' the user', ' listed files.'], id: 'gen-123-abc' }) };
    });
    const stream = await client.chat.completions.create({
      ...(gooseRequests.compaction as unknown as OpenAI.ChatCompletionCreateParamsStreaming),
      max_tokens: 8192,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    upstream.setDefault(undefined);

    const sent = upstream.received.at(-1)!.body as { model: string; max_tokens: number; messages: unknown };
    assert.equal(sent.model, 'google/gemini-2.5-flash');
    assert.equal(sent.max_tokens, 1024);
    assert.deepEqual(sent.messages, gooseRequests.compaction.messages, 'the conversation itself is untouched');

    // What Goose's parser needs: every chunk has the same id and model, a finish_reason, a usage chunk.
    assert.equal(new Set(chunks.map((c) => c.id)).size, 1);
    assert.deepEqual([...new Set(chunks.map((c) => c.model))], ['google/gemini-2.5-flash']);
    assert.ok(chunks.some((c) => c.choices[0]?.finish_reason === 'stop'));
    assert.ok(chunks.at(-1)?.usage);
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), 'Summary: the user listed files.');
  });

  it('session naming is downshifted too; the reply model is the substituted one', async () => {
    const res = await client.chat.completions.create(gooseRequests.naming as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal(res.model, 'google/gemini-2.5-flash');
    const sent = upstream.received.at(-1)!.body as { model: string; max_tokens: number };
    assert.equal(sent.model, 'google/gemini-2.5-flash');
    assert.equal(sent.max_tokens, 1024);
  });

  it('the permission judge gets its own rule; main agent turns with tools pass unchanged', async () => {
    await client.chat.completions.create(gooseRequests.permission as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.equal((upstream.received.at(-1)!.body as { model: string }).model, 'openai/gpt-4o-mini');

    await client.chat.completions.create(gooseRequests.turn as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.deepEqual(upstream.received.at(-1)!.body, gooseRequests.turn);
  });

  it('the x-switchboard-task-kind header selects a rule for non-Goose callers', async () => {
    const plain = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0, defaultHeaders: { 'x-switchboard-task-kind': 'title' } });
    await plain.chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages: [{ role: 'user', content: 'name this' }] });
    const got = upstream.received.at(-1)!;
    assert.equal((got.body as { model: string }).model, 'google/gemini-2.5-flash');
    assert.equal(got.headers['x-switchboard-task-kind'], undefined, 'gateway headers are not sent upstream');
  });

  it('a broken rule file stops the gateway from starting, naming the key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-downshift-bad-'));
    try {
      writeFileSync(join(dir, 'downshift-rules.yaml'), 'version: 1\nrules:\n  - id: x\n    match: { taskKinds: [title] }\n    action: { tier: economy }\n');
      await assert.rejects(
        startTestGateway({ upstreamUrl: upstream.baseUrl, dataDir: dir }),
        (err: unknown) => err instanceof DownshiftRulesError && /rules\[0\]\.action\.tier: no model is set for tier "economy"/.test(err.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
