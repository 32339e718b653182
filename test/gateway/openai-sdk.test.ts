import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { errorReply, openAiCompletion, openAiStream, startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { waitUntil } from '../support/wait.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

describe('gateway with the official openai SDK', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;
  let client: OpenAI;

  before(async () => {
    upstream = await startScriptedUpstream({ keepAlive: false });
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('non-stream chat: answer comes back unchanged, upstream gets the same JSON with the upstream key', async () => {
    const reply = openAiCompletion({ content: 'Paris.', usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11, cost: 0.0001 } });
    upstream.enqueue({ kind: 'json', body: reply });
    const request = {
      model: 'anthropic/claude-sonnet-4',
      messages: [{ role: 'system' as const, content: 'You are terse.' }, { role: 'user' as const, content: 'Capital of France?' }],
      temperature: 0,
      transforms: ['middle-out'],
    };
    const res = await client.chat.completions.create(request as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assert.deepEqual(res, reply);
    const got = upstream.received.at(-1)!;
    assert.equal(got.path, '/v1/chat/completions');
    assert.deepEqual(got.body, request);
    assert.equal(got.headers.authorization, 'Bearer sk-upstream-test');
  });

  it('streaming chat with tool-call fragments and a usage chunk arrives chunk for chunk', async () => {
    const events = openAiStream({
      contentPieces: ['Let me', ' check.'],
      toolCalls: [{ id: 'call_1', name: 'developer__shell', argumentFragments: ['{"comm', 'and": "ls', ' -la"}'] }],
    });
    upstream.enqueue({ kind: 'sse', events });
    const stream = await client.chat.completions.create({
      model: 'anthropic/claude-sonnet-4',
      messages: [{ role: 'user', content: 'list files' }],
      stream: true,
      stream_options: { include_usage: true },
      tools: [{ type: 'function', function: { name: 'developer__shell', description: 'run', parameters: { type: 'object', properties: { command: { type: 'string' } } } } }],
    });
    const chunks: unknown[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    const expected = events.filter((e) => 'data' in e && e.data !== '[DONE]').map((e) => JSON.parse((e as { data: string }).data));
    assert.deepEqual(chunks, expected);
  });

  it('lists models', async () => {
    const page = await client.models.list();
    assert.ok(page.data.some((m) => m.id === 'anthropic/claude-sonnet-4'));
  });

  it('embeddings pass through', async () => {
    const res = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['hello'] });
    assert.equal(res.data.length, 1);
  });

  it('a stream that dies mid-way raises an APIError in the SDK after the chunks that did arrive', async () => {
    let got = 0;
    upstream.enqueue({
      kind: 'sse',
      events: openAiStream({ contentPieces: ['partial', ' answer', ' lost'] }),
      cutAfter: 3,
      beforeEvent: (i) => (i === 3 ? waitUntil(() => got >= 3, 'client has three chunks') : undefined),
    });
    const stream = await client.chat.completions.create({
      model: 'anthropic/claude-sonnet-4',
      messages: [{ role: 'user', content: 'write something long' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    await assert.rejects(
      (async () => {
        for await (const _chunk of stream) got++;
      })(),
      (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.match(err.message, /Upstream stream interrupted/);
        return true;
      },
    );
    assert.equal(got, 3);
    await waitUntil(() => upstream.openConnections() === 0, 'no upstream socket left after the cut');
  });

  it('an upstream 429 beyond the retry budget reaches the SDK as a RateLimitError with Retry-After', async () => {
    upstream.enqueue(errorReply(429, 'Rate limit exceeded: free-models-per-min', { 'retry-after': '60' }));
    await assert.rejects(client.chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages: [{ role: 'user', content: 'hi again' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.RateLimitError);
      assert.equal(err.headers.get('retry-after'), '60');
      assert.match(err.message, /free-models-per-min/);
      return true;
    });
  });

  it('rejects a wrong token with 401 in the OpenAI error shape', async () => {
    const bad = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'nope', maxRetries: 0 });
    await assert.rejects(bad.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] }), (err: unknown) => {
      assert.ok(err instanceof OpenAI.AuthenticationError);
      assert.match((err as Error).message, /Invalid gateway token/);
      return true;
    });
  });
});
