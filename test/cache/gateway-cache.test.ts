import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { anthropicStream, errorReply, openAiCompletion, openAiStream, startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { openGatewayDb } from '../../platform/sqlite.js';
import { UsageStore } from '../../models/usage-store.js';
import type { UsageRecord } from '../../models/usage-record.js';

let counter = 0;
/** A fresh temperature-0 request per test so entries from other tests never interfere. */
function request(extra: Record<string, unknown> = {}) {
  counter++;
  return {
    model: 'anthropic/claude-sonnet-4',
    messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: `question ${counter} at ${Date.now()}` }],
    temperature: 0,
    ...extra,
  };
}

describe('exact cache through the gateway', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;
  let dataDir: string;
  let openai: OpenAI;

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const chatCalls = () => upstream.received.filter((r) => r.path.endsWith('/chat/completions') || r.path.endsWith('/messages')).length;

  before(async () => {
    upstream = await startScriptedUpstream();
    dataDir = mkdtempSync(join(tmpdir(), 'sb-cache-gw-'));
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, dataDir });
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  beforeEach(() => upstream.setDefault(undefined));

  it('non-stream: miss, then a hit with the same answer, a fresh id and no upstream call', async () => {
    const body = request({ max_tokens: 100 });
    upstream.enqueue({ kind: 'json', body: openAiCompletion({ content: 'Cached answer', id: 'chatcmpl-original-1' }) });
    const first = await post('/v1/chat/completions', body);
    assert.equal(first.headers.get('x-switchboard-cache'), 'miss');
    const firstBody = (await first.json()) as { id: string; choices: unknown };
    const calls = chatCalls();

    // Same request with other key order, a user field and stream:false: still the same entry.
    const reordered = { stream: false, user: 'someone-else', max_tokens: 100, temperature: 0, messages: body.messages, model: body.model };
    const second = await post('/v1/chat/completions', reordered);
    assert.equal(second.status, 200);
    assert.equal(second.headers.get('x-switchboard-cache'), 'hit');
    const secondBody = (await second.json()) as { id: string; choices: unknown };
    assert.equal(chatCalls(), calls, 'a hit never reaches the upstream');
    assert.deepEqual(secondBody.choices, firstBody.choices);
    assert.equal(firstBody.id, 'chatcmpl-original-1');
    assert.match(secondBody.id, /^chatcmpl-[0-9a-f]{24}$/);
  });

  it('stream: a hit replays the original chunks (tool-call fragments, usage) with one consistent id', async () => {
    const body = request({
      tools: [{ type: 'function', function: { name: 'developer__shell', description: 'run', parameters: { type: 'object', properties: { command: { type: 'string' } } } } }],
    });
    const events = openAiStream({ contentPieces: ['Let me', ' look.'], toolCalls: [{ id: 'call_1', name: 'developer__shell', argumentFragments: ['{"command"', ': "ls"}'] }] });
    upstream.enqueue({ kind: 'sse', events });
    const collect = async () => {
      const stream = await openai.chat.completions.create({ ...(body as OpenAI.ChatCompletionCreateParamsStreaming), stream: true, stream_options: { include_usage: true } });
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const c of stream) chunks.push(c);
      return chunks;
    };
    const first = await collect();
    const calls = chatCalls();
    const { data: second, response } = await openai.chat.completions
      .create({ ...(body as OpenAI.ChatCompletionCreateParamsStreaming), stream: true, stream_options: { include_usage: true } })
      .withResponse();
    assert.equal(response.headers.get('x-switchboard-cache'), 'hit');
    const replayed: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of second) replayed.push(c);
    assert.equal(chatCalls(), calls);
    assert.equal(replayed.length, first.length);
    const ids = new Set(replayed.map((c) => c.id));
    assert.equal(ids.size, 1, 'every replayed chunk carries the same id');
    assert.notEqual([...ids][0], first[0]!.id, 'but not the original one');
    const strip = (cs: OpenAI.ChatCompletionChunk[]) => cs.map(({ id: _id, ...rest }) => rest);
    assert.deepEqual(strip(replayed), strip(first));
    assert.ok(replayed.at(-1)!.usage, 'usage chunk is replayed');
  });

  it('a hit is still metered (cost 0, cache hit) with its task kind', async () => {
    const body = request();
    await (await post('/v1/chat/completions', body)).text();
    const hit = await post('/v1/chat/completions', body, { 'x-request-id': `hit-${counter}` });
    assert.equal(hit.headers.get('x-switchboard-cache'), 'hit');
    await hit.text();
    const store = new UsageStore(gw.server.services.db());
    let found: UsageRecord | undefined;
    for (let i = 0; i < 100 && !found; i++) {
      await new Promise((r) => setTimeout(r, 20));
      found = [...store.records({ since: 0 })].find((r) => r.requestId === `hit-${counter}`);
    }
    assert.ok(found, 'usage record for the hit');
    assert.equal(found.cacheHit, true);
    assert.equal(found.costUsd, 0);
    assert.equal(found.taskKind, 'chat');
  });

  it('the stored stream keeps its usage chunk; a hit shows it only to clients that asked', async () => {
    const body = { ...request(), stream: true };
    const usageChunks = (text: string) => text.split('\n').filter((l) => l.startsWith('data: {') && l.includes('"usage"')).length;
    const first = await post('/v1/chat/completions', body);
    assert.equal(usageChunks(await first.text()), 0, 'client did not ask for usage');
    const hit = await post('/v1/chat/completions', body);
    assert.equal(hit.headers.get('x-switchboard-cache'), 'hit');
    const hitText = await hit.text();
    assert.equal(usageChunks(hitText), 0);
    assert.ok(hitText.trimEnd().endsWith('data: [DONE]'));
    const asking = await post('/v1/chat/completions', { ...body, stream_options: { include_usage: true } });
    assert.equal(asking.headers.get('x-switchboard-cache'), 'hit');
    assert.equal(usageChunks(await asking.text()), 1);
  });

  it('a stream cut mid-way is never cached', async () => {
    const body = { ...request(), stream: true };
    upstream.enqueue({ kind: 'sse', events: openAiStream({ contentPieces: ['a', 'b', 'c'] }), cutAfter: 2 });
    const res = await post('/v1/chat/completions', body);
    await res.text();
    const calls = chatCalls();
    const again = await post('/v1/chat/completions', body);
    assert.equal(again.headers.get('x-switchboard-cache'), 'miss');
    await again.text();
    assert.equal(chatCalls(), calls + 1);
  });

  it('a stream that reports an error event is never cached', async () => {
    const body = { ...request(), stream: true };
    upstream.enqueue({ kind: 'sse', events: [...openAiStream({ contentPieces: ['a'] }).slice(0, 2), { data: '{"error":{"message":"provider overloaded"}}' }, { data: '[DONE]' }] });
    await (await post('/v1/chat/completions', body)).text();
    const again = await post('/v1/chat/completions', body);
    assert.equal(again.headers.get('x-switchboard-cache'), 'miss');
    await again.text();
  });

  it('errors are never cached', async () => {
    const body = request();
    upstream.enqueue(errorReply(400, 'bad thing'));
    const res = await post('/v1/chat/completions', body);
    assert.equal(res.status, 400);
    await res.text();
    const again = await post('/v1/chat/completions', body);
    assert.equal(again.status, 200);
    assert.equal(again.headers.get('x-switchboard-cache'), 'miss');
    await again.text();
  });

  it('non-deterministic requests and callers who opt out bypass the cache', async () => {
    const body = { ...request(), temperature: 0.7 };
    for (let i = 0; i < 2; i++) {
      const res = await post('/v1/chat/completions', body);
      assert.equal(res.headers.get('x-switchboard-cache'), 'bypass');
      await res.text();
    }
    const pinned = request();
    await (await post('/v1/chat/completions', pinned)).text();
    const optOut = await post('/v1/chat/completions', pinned, { 'x-switchboard-cache': 'bypass' });
    assert.equal(optOut.headers.get('x-switchboard-cache'), 'bypass');
    await optOut.text();
  });

  it('a streamed and a non-streamed request are different entries', async () => {
    const body = request();
    await (await post('/v1/chat/completions', body)).text();
    const streamed = await post('/v1/chat/completions', { ...body, stream: true });
    assert.equal(streamed.headers.get('x-switchboard-cache'), 'miss');
    assert.match(streamed.headers.get('content-type') ?? '', /text\/event-stream/);
    await streamed.text();
  });

  it('Anthropic streams replay event for event through the Anthropic SDK', async () => {
    const anthropic = new Anthropic({ baseURL: gw.url, apiKey: gw.token, maxRetries: 0 });
    upstream.enqueue({ kind: 'sse', events: anthropicStream({ textPieces: ['Bonjour', ' !'] }) });
    const params = { model: 'anthropic/claude-sonnet-4', max_tokens: 50, temperature: 0, messages: [{ role: 'user' as const, content: `hello ${Date.now()}` }] };
    const collect = async () => {
      const events: Anthropic.MessageStreamEvent[] = [];
      for await (const e of await anthropic.messages.create({ ...params, stream: true })) events.push(e);
      return events;
    };
    const first = await collect();
    const calls = chatCalls();
    const second = await collect();
    assert.equal(chatCalls(), calls);
    assert.equal(second.length, first.length);
    const start = second[0] as Anthropic.RawMessageStartEvent;
    assert.match(start.message.id, /^msg_[0-9a-f]{24}$/);
    assert.deepEqual(second.slice(1), first.slice(1));
  });

  it('entries survive a gateway restart (persistent store) and hold no clear-text request', async () => {
    const body = request();
    upstream.enqueue({ kind: 'json', body: openAiCompletion({ content: 'persisted' }) });
    await (await post('/v1/chat/completions', body)).text();
    await gw.close();
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, dataDir });
    const calls = chatCalls();
    const res = await post('/v1/chat/completions', body);
    assert.equal(res.headers.get('x-switchboard-cache'), 'hit');
    assert.equal(((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message.content, 'persisted');
    assert.equal(chatCalls(), calls);

    const db = openGatewayDb(join(dataDir, 'gateway.db'));
    try {
      const rows = db.prepare('SELECT key, payload FROM cache_entries').all() as Array<{ key: string; payload: string }>;
      assert.ok(rows.length > 0);
      const question = (body.messages[1] as { content: string }).content;
      assert.ok(rows.every((r) => !r.payload.includes(question) && !r.key.includes('question')), 'only hashes and answers are stored');
    } finally {
      db.close();
    }
  });
});
