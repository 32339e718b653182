/**
 * The official @anthropic-ai/sdk drives /v1/messages: non-stream and stream, tool_use with
 * input_json_delta fragments, x-api-key authentication, errors in the Anthropic shape, and a
 * mid-stream failure surfacing as an `event: error` the SDK understands.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { anthropicMessage, anthropicStream, startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil } from '../support/wait.js';

const shellTool = {
  name: 'developer__shell',
  description: 'Execute a command in the shell.',
  input_schema: { type: 'object' as const, properties: { command: { type: 'string' } }, required: ['command'] },
};

describe('gateway with the official @anthropic-ai/sdk', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;
  let client: Anthropic;

  before(async () => {
    upstream = await startScriptedUpstream({ keepAlive: false });
    gw = await startTestGateway({
      upstreamUrl: upstream.baseUrl,
      config: { upstreams: [{ name: 'anthropic', kind: 'anthropic', baseUrl: upstream.baseUrl, apiKeyEnv: 'TEST_UPSTREAM_KEY' }] },
    });
    client = new Anthropic({ baseURL: gw.url, apiKey: gw.token, maxRetries: 0 });
  });
  afterEach(async () => {
    await waitUntil(() => upstream.openConnections() === 0, 'upstream connections closed');
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('non-stream with tools: x-api-key authenticates, upstream gets the same JSON with its own key', async () => {
    const reply = anthropicMessage({ toolUse: { id: 'toolu_01', name: 'developer__shell', input: { command: 'ls -la' } }, usage: { input_tokens: 30, output_tokens: 9 } });
    upstream.enqueue({ kind: 'json', body: reply });
    const params = {
      model: 'anthropic/claude-sonnet-4',
      max_tokens: 1024,
      system: 'You are a general-purpose AI agent called goose.',
      tools: [shellTool],
      messages: [{ role: 'user' as const, content: 'List the files here.' }],
    };
    const msg = await client.messages.create(params);
    assert.deepEqual(msg, reply);
    const got = upstream.received.at(-1)!;
    assert.equal(got.path, '/v1/messages');
    assert.deepEqual(got.body, params);
    assert.equal(got.headers['x-api-key'], 'sk-upstream-test');
    assert.equal(got.headers['anthropic-version'], '2023-06-01');
    assert.equal(got.headers.authorization, undefined);
    assert.ok(!JSON.stringify(got.headers).includes(gw.token), 'local token never reaches the upstream');
  });

  it('stream with text and tool_use input_json_delta fragments arrives event for event', async () => {
    const events = anthropicStream({ textPieces: ['Let me', ' look.'], toolUse: { id: 'toolu_02', name: 'developer__shell', jsonFragments: ['{"comm', 'and": "ls', ' -la"}'] } });
    upstream.enqueue({ kind: 'sse', events });
    const stream = await client.messages.create({
      model: 'anthropic/claude-sonnet-4',
      max_tokens: 1024,
      tools: [shellTool],
      messages: [{ role: 'user', content: 'List the files.' }],
      stream: true,
    });
    const seen: unknown[] = [];
    for await (const event of stream) seen.push(event);
    assert.deepEqual(seen, events.map((e) => JSON.parse((e as { data: string }).data)));
  });

  it('the SDK stream helper assembles the tool_use input from the fragments', async () => {
    upstream.enqueue({ kind: 'sse', events: anthropicStream({ toolUse: { id: 'toolu_03', name: 'developer__shell', jsonFragments: ['{"command"', ': "pwd"}'] } }) });
    const final = await client.messages
      .stream({ model: 'anthropic/claude-sonnet-4', max_tokens: 256, tools: [shellTool], messages: [{ role: 'user', content: 'Where am I?' }] })
      .finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    const block = final.content[0];
    assert.ok(block && block.type === 'tool_use');
    assert.deepEqual(block.input, { command: 'pwd' });
  });

  it('a wrong key gets 401 in the Anthropic error shape', async () => {
    const bad = new Anthropic({ baseURL: gw.url, apiKey: 'sk-ant-wrong', maxRetries: 0 });
    await assert.rejects(bad.messages.create({ model: 'anthropic/claude-sonnet-4', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }), (err: unknown) => {
      assert.ok(err instanceof Anthropic.AuthenticationError);
      assert.deepEqual(err.error, { type: 'error', error: { type: 'authentication_error', message: 'Invalid gateway token (see `switchboard token`)' } });
      return true;
    });
  });

  it('an invalid request gets 400 in the Anthropic shape', async () => {
    await assert.rejects(
      client.messages.create({ model: 'anthropic/claude-sonnet-4', max_tokens: 10, messages: 'hi' as never }),
      (err: unknown) => {
        assert.ok(err instanceof Anthropic.BadRequestError);
        assert.equal((err.error as { error: { type: string } }).error.type, 'invalid_request_error');
        return true;
      },
    );
  });

  it('an upstream that dies mid-stream ends the stream with an error event the SDK raises', async () => {
    let got = 0;
    upstream.enqueue({
      kind: 'sse',
      events: anthropicStream({ textPieces: ['one', 'two', 'three'] }),
      cutAfter: 3,
      beforeEvent: (i) => (i === 3 ? waitUntil(() => got >= 3, 'client has three events') : undefined),
    });
    const stream = await client.messages.create({ model: 'anthropic/claude-sonnet-4', max_tokens: 64, messages: [{ role: 'user', content: 'count' }], stream: true });
    await assert.rejects(
      (async () => {
        for await (const _event of stream) got++;
      })(),
      (err: unknown) => {
        assert.ok(err instanceof Anthropic.APIError);
        assert.match(err.message, /Upstream stream interrupted/);
        return true;
      },
    );
    assert.equal(got, 3);
  });
});
