/**
 * Errors the gateway makes itself: right status, the caller's wire format, a message that names the
 * problem, and never one of Goose's context-overflow trigger phrases in a 400 (that would make Goose
 * compact the conversation instead of showing the error).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

/** goose-integration.md §2.8: 400 messages containing these become ContextLengthExceeded in Goose. */
const GOOSE_OVERFLOW_PHRASES = [
  'too long', 'context length', 'context_length_exceeded', 'reduce the length', 'token count', 'exceeds',
  'exceed context limit', 'input length', 'max_tokens', 'decrease input length', 'context limit', 'maximum prompt length',
];

interface OpenAiErrorBody {
  error: { message: string; type: string; code: string | null };
}
interface AnthropicErrorBody {
  type: 'error';
  error: { type: string; message: string };
}

function assertOpenAiError(body: unknown, status: number, code: string, message: RegExp): void {
  const b = body as OpenAiErrorBody;
  assert.deepEqual(Object.keys(b), ['error']);
  assert.deepEqual(Object.keys(b.error).sort(), ['code', 'message', 'type']);
  assert.equal(b.error.code, code);
  assert.equal(typeof b.error.type, 'string');
  assert.match(b.error.message, message);
  if (status === 400) assertNoOverflowPhrase(b.error.message);
}

function assertAnthropicError(body: unknown, status: number, type: string, message: RegExp): void {
  const b = body as AnthropicErrorBody;
  assert.equal(b.type, 'error');
  assert.equal(b.error.type, type);
  assert.match(b.error.message, message);
  if (status === 400) assertNoOverflowPhrase(b.error.message);
}

function assertNoOverflowPhrase(message: string): void {
  const lower = message.toLowerCase();
  for (const phrase of GOOSE_OVERFLOW_PHRASES) assert.ok(!lower.includes(phrase), `400 message "${message}" contains Goose trigger "${phrase}"`);
}

describe('gateway-made errors', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;
  const bodyLimit = 4096;

  before(async () => {
    upstream = await startScriptedUpstream();
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, config: { bodyLimitBytes: bodyLimit } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  async function post(path: string, body: string, headers: Record<string, string> = {}) {
    const res = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.token}`, ...headers },
      body,
    });
    return { status: res.status, body: (await res.json()) as unknown, contentType: res.headers.get('content-type') };
  }

  it('malformed JSON → 400 naming the problem (OpenAI shape)', async () => {
    const r = await post('/v1/chat/completions', '{"model": "m", "messages": [');
    assert.equal(r.status, 400);
    assert.match(r.contentType ?? '', /application\/json/);
    assertOpenAiError(r.body, 400, 'invalid_json', /not valid JSON/);
  });

  it('malformed JSON on /v1/messages → 400 in the Anthropic shape', async () => {
    const r = await post('/v1/messages', '{nope', { 'x-api-key': gw.token });
    assert.equal(r.status, 400);
    assertAnthropicError(r.body, 400, 'invalid_request_error', /not valid JSON/);
  });

  it('empty body → 400', async () => {
    const r = await post('/api/v1/chat/completions', '');
    assert.equal(r.status, 400);
    assertOpenAiError(r.body, 400, 'empty_body', /empty/);
  });

  it('schema violations → 400 naming the field', async () => {
    const notArray = await post('/v1/chat/completions', JSON.stringify({ model: 'm', messages: 'hello' }));
    assert.equal(notArray.status, 400);
    assertOpenAiError(notArray.body, 400, 'invalid_request', /messages must be array/);

    const noModel = await post('/goose/v1/chat/completions', JSON.stringify({ messages: [] }));
    assert.equal(noModel.status, 400);
    assertOpenAiError(noModel.body, 400, 'invalid_request', /model/);

    const streamNotBool = await post('/v1/chat/completions', JSON.stringify({ model: 'm', messages: [], stream: 'yes' }));
    assert.equal(streamNotBool.status, 400);
    assertOpenAiError(streamNotBool.body, 400, 'invalid_request', /stream must be boolean/);

    const notObject = await post('/v1/chat/completions', JSON.stringify(['model', 'messages']));
    assert.equal(notObject.status, 400);
    assertOpenAiError(notObject.body, 400, 'invalid_request', /^Invalid request: request body must be object$/);

    const anthropic = await post('/v1/messages', JSON.stringify({ model: 'claude', messages: {} }), { 'x-api-key': gw.token });
    assert.equal(anthropic.status, 400);
    assertAnthropicError(anthropic.body, 400, 'invalid_request_error', /messages must be array/);

    const embeddings = await post('/v1/embeddings', JSON.stringify({ model: 'text-embedding-3-small' }));
    assert.equal(embeddings.status, 400);
    assertOpenAiError(embeddings.body, 400, 'invalid_request', /input/);
    assert.equal(upstream.received.length, 0, 'nothing invalid reached the upstream');
  });

  it('oversized body → 413 stating the limit', async () => {
    const big = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x'.repeat(bodyLimit) }] });
    const r = await post('/v1/chat/completions', big);
    assert.equal(r.status, 413);
    assertOpenAiError(r.body, 413, 'body_too_large', new RegExp(`${bodyLimit} bytes`));
    const a = await post('/v1/messages', big, { 'x-api-key': gw.token });
    assert.equal(a.status, 413);
    assertAnthropicError(a.body, 413, 'request_too_large', /limit/);
  });

  it('unknown route → 404 naming the route; wrong method too', async () => {
    const r = await fetch(`${gw.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(r.status, 404);
    assertOpenAiError(await r.json(), 404, 'unknown_route', /POST \/v1\/completions/);
    const get = await fetch(`${gw.url}/v1/chat/completions?x=1`);
    assert.equal(get.status, 404);
    assertOpenAiError(await get.json(), 404, 'unknown_route', /^Unknown route GET \/v1\/chat\/completions$/);
  });

  it('unsupported content type → 415', async () => {
    const r = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'text/plain', authorization: `Bearer ${gw.token}` }, body: 'hi' });
    assert.equal(r.status, 415);
    assertOpenAiError(await r.json(), 415, 'unsupported_media_type', /application\/json/);
  });

  it('missing or invalid token → 401 (OpenAI shape), before anything reaches the upstream', async () => {
    const before = upstream.received.length;
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
    const missing = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(missing.status, 401);
    assertOpenAiError(await missing.json(), 401, 'missing_token', /Missing gateway token/);

    const wrong = await post('/api/v1/chat/completions', body, { authorization: 'Bearer sk-or-v1-not-the-local-token' });
    assert.equal(wrong.status, 401);
    assertOpenAiError(wrong.body, 401, 'invalid_token', /Invalid gateway token/);

    const models = await fetch(`${gw.url}/v1/models`);
    assert.equal(models.status, 401);
    assert.equal(upstream.received.length, before);
  });

  it('missing or invalid token on /v1/messages → 401 in the Anthropic shape', async () => {
    const body = JSON.stringify({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    const r = await fetch(`${gw.url}/v1/messages`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': 'wrong' }, body });
    assert.equal(r.status, 401);
    assertAnthropicError(await r.json(), 401, 'authentication_error', /Invalid gateway token/);
  });
});
