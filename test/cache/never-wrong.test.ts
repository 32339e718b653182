/**
 * The exact cache never serves a different answer: the key is the request as sent upstream
 * (after downshift), and answers from a fallback upstream, answers cut short and errors sent with
 * HTTP 200 (OpenRouter's mid-stream error chunk, in any field order) are never stored; nor are
 * Responses API answers that did not complete (status "incomplete"/"failed", or a stream ending
 * in response.incomplete / response.failed), while completed ones are.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { UpstreamConfig } from '../../gateway/config.js';
import { errorReply, openAiCompletion, openAiResponse, openAiResponseStream, openAiStream, startScriptedUpstream, type ScriptedEvent, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

const RULES = `
version: 1
tiers:
  economy: google/gemini-2.5-flash
rules:
  - id: titles
    match: { taskKinds: [title] }
    action: { tier: economy, maxTokens: 1024 }
`;

let counter = 0;
function request(extra: Record<string, unknown> = {}) {
  counter++;
  return { model: 'anthropic/claude-sonnet-4', messages: [{ role: 'user', content: `never wrong ${counter} at ${Date.now()}` }], temperature: 0, ...extra };
}

describe('the cache never serves a different answer', () => {
  let primary: ScriptedUpstream;
  let local: ScriptedUpstream;
  let gw: TestGateway;
  let dataDir: string;

  const post = async (body: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, cache: res.headers.get('x-switchboard-cache'), text: await res.text() };
  };
  const postResponses = async (body: unknown) => {
    const res = await fetch(`${gw.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.status, cache: res.headers.get('x-switchboard-cache'), text: await res.text() };
  };
  const lastModelSent = () => (primary.received.at(-1)!.body as { model: string }).model;

  before(async () => {
    primary = await startScriptedUpstream();
    local = await startScriptedUpstream();
    dataDir = mkdtempSync(join(tmpdir(), 'sb-cache-never-wrong-'));
    writeFileSync(join(dataDir, 'downshift-rules.yaml'), RULES);
    const upstreams: UpstreamConfig[] = [
      { name: 'primary', kind: 'openrouter', baseUrl: primary.baseUrl, apiKeyEnv: 'TEST_UPSTREAM_KEY' },
      { name: 'ollama', kind: 'ollama', baseUrl: local.baseUrl, fallbackModel: 'llama3.2:3b' },
    ];
    gw = await startTestGateway({
      upstreamUrl: primary.baseUrl,
      dataDir,
      config: { upstreams, breaker: { failureThreshold: 100, cooldownMs: 1000 }, retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1000 } },
    });
  });
  after(async () => {
    await gw.close();
    await primary.close();
    await local.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('a downshifted answer is keyed on the cheaper model: a request that is not downshifted never gets it', async () => {
    const body = request();
    const title = { 'x-switchboard-task-kind': 'title' };
    const cheap = await post(body, title);
    assert.equal(cheap.status, 200);
    assert.equal(lastModelSent(), 'google/gemini-2.5-flash');

    const calls = primary.received.length;
    const full = await post(body);
    assert.equal(full.cache, 'miss', 'the economy answer is not served to a full-price request');
    assert.equal(primary.received.length, calls + 1);
    assert.equal(lastModelSent(), 'anthropic/claude-sonnet-4');
    assert.match(full.text, /"model":"anthropic\/claude-sonnet-4"/);

    const again = await post(body, title);
    assert.equal(again.cache, 'hit', 'the same downshifted request hits its own entry');
    assert.match(again.text, /"model":"google\/gemini-2.5-flash"/);
  });

  it("a fallback upstream's answer is never stored", async () => {
    const body = request();
    primary.enqueue(errorReply(503, 'overloaded'));
    const fell = await post(body);
    assert.equal(fell.status, 200);
    assert.match(fell.text, /llama3\.2:3b/);
    const calls = primary.received.length;
    const next = await post(body);
    assert.equal(next.cache, 'miss');
    assert.equal(primary.received.length, calls + 1, 'the primary answers the next request');
    assert.match(next.text, /"model":"anthropic\/claude-sonnet-4"/);
  });

  it('an answer cut at the output cap (finish_reason "length") is never stored, streamed or not', async () => {
    const body = request({ max_tokens: 5 });
    const cut = openAiCompletion({ content: 'The answer is' });
    cut.choices[0]!.finish_reason = 'length';
    primary.enqueue({ kind: 'json', body: cut });
    await post(body);
    assert.equal((await post(body)).cache, 'miss');

    const streamed = { ...request({ max_tokens: 5 }), stream: true };
    const events = openAiStream({ contentPieces: ['The', ' answer'] }).map((e) => ('data' in e ? { ...e, data: e.data.replace('"finish_reason":"stop"', '"finish_reason":"length"') } : e));
    primary.enqueue({ kind: 'sse', events });
    await post(streamed);
    assert.equal((await post(streamed)).cache, 'miss');
  });

  it('a Responses API answer is stored only when it completed, streamed or not', async () => {
    const responsesRequest = (extra: Record<string, unknown> = {}) => {
      counter++;
      return { model: 'openai/gpt-4o-mini', input: `responses never wrong ${counter} at ${Date.now()}`, temperature: 0, ...extra };
    };
    // Completed: stored, and the replay gets a fresh response id.
    const done = responsesRequest();
    primary.enqueue({ kind: 'json', body: openAiResponse({ textPieces: ['All', ' done'] }) });
    assert.equal((await postResponses(done)).cache, 'miss');
    const hit = await postResponses(done);
    assert.equal(hit.cache, 'hit');
    assert.doesNotMatch(hit.text, /resp_scripted_1/);
    const doneStream = responsesRequest({ stream: true });
    primary.enqueue({ kind: 'sse', events: openAiResponseStream({ textPieces: ['All', ' done'] }) });
    await postResponses(doneStream);
    const streamHit = await postResponses(doneStream);
    assert.equal(streamHit.cache, 'hit', 'a stream ending in response.completed is stored');
    assert.doesNotMatch(streamHit.text, /resp_scripted_1/);

    // status "incomplete" / "failed" in a JSON answer.
    for (const status of ['incomplete', 'failed'] as const) {
      const body = responsesRequest();
      const answer = { ...openAiResponse({ textPieces: ['Cut'] }), status, ...(status === 'incomplete' ? { incomplete_details: { reason: 'max_output_tokens' } } : { error: { code: 'server_error', message: 'failed' } }) };
      primary.enqueue({ kind: 'json', body: answer });
      assert.equal((await postResponses(body)).status, 200);
      const calls = primary.received.length;
      assert.equal((await postResponses(body)).cache, 'miss', status);
      assert.equal(primary.received.length, calls + 1);
    }

    // A stream ending in response.incomplete / response.failed, with or without `event:` lines.
    for (const type of ['response.incomplete', 'response.failed'] as const) {
      for (const named of [true, false]) {
        const body = responsesRequest({ stream: true });
        const events = openAiResponseStream({ textPieces: ['Cut', ' short'] });
        const last = events.pop()!;
        const data = ('data' in last ? last.data : '').replace('"response.completed"', `"${type}"`).replace('"status":"completed"', `"status":"${type === 'response.failed' ? 'failed' : 'incomplete'}"`);
        events.push(named ? { event: type, data } : { data });
        // Ended by the upstream's [DONE] too, so only the event itself keeps it out.
        primary.enqueue({ kind: 'sse', events: [...events, { data: '[DONE]' }] });
        assert.equal((await postResponses(body)).status, 200);
        assert.equal((await postResponses(body)).cache, 'miss', `${type} ${named ? 'named' : 'unnamed'}`);
      }
    }
  });

  it('an OpenRouter error chunk sent with HTTP 200 is never stored, whatever its field order', async () => {
    const head = openAiStream({ contentPieces: ['Partial'] }).slice(0, 2);
    const errorChunks: ScriptedEvent[] = [
      // OpenRouter's shape: the chunk fields first, then `error`, and finish_reason "error".
      { data: JSON.stringify({ id: 'gen-1', object: 'chat.completion.chunk', created: 1764000000, model: 'anthropic/claude-sonnet-4', provider: 'Anthropic', error: { code: 502, message: 'Provider returned error' }, choices: [{ index: 0, delta: { content: '' }, finish_reason: 'error' }] }) },
      // `error` last, finish_reason still null.
      { data: JSON.stringify({ id: 'gen-2', object: 'chat.completion.chunk', choices: [{ index: 0, delta: {}, finish_reason: null }], error: { message: 'upstream stream failed' } }) },
    ];
    for (const chunk of errorChunks) {
      const body = { ...request(), stream: true };
      primary.enqueue({ kind: 'sse', events: [...head, chunk, { data: '[DONE]' }] });
      const first = await post(body);
      assert.equal(first.status, 200);
      const again = await post(body);
      assert.equal(again.cache, 'miss', JSON.stringify(chunk));
      assert.doesNotMatch(again.text, /Provider returned error|upstream stream failed/);
    }
  });
});
