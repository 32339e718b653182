/**
 * Health probes, and the per-request log line: id, route, model, status, timings — and never any
 * request or response text (a unique marker sent everywhere must not appear in any log line).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { errorReply, openAiCompletion, openAiStream, startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil } from '../support/wait.js';

type LogLine = Record<string, unknown>;

describe('health probes and request logs', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;
  const marker = `zqx-marker-${randomUUID()}`;

  before(async () => {
    upstream = await startScriptedUpstream({ keepAlive: false });
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const parsedLogs = (): LogLine[] => gw.logs.map((l) => JSON.parse(l) as LogLine);
  async function requestLine(id: string | null): Promise<LogLine> {
    await waitUntil(() => parsedLogs().some((l) => l.msg === 'request' && l.reqId === id), `request log for ${id}`);
    return parsedLogs().find((l) => l.msg === 'request' && l.reqId === id)!;
  }
  function post(path: string, body: string, headers: Record<string, string> = {}) {
    return fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.token}`, ...headers },
      body,
    });
  }

  it('/healthz answers without a token; /readyz lists upstream states without secrets', async () => {
    const health = await fetch(`${gw.url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
    const ready = await fetch(`${gw.url}/readyz`);
    assert.equal(ready.status, 200);
    const text = await ready.text();
    assert.deepEqual(JSON.parse(text), {
      status: 'ready',
      policy: { source: 'built-in', role: 'engineering', version: 'default', ready: true },
      upstreams: [{ name: 'primary', kind: 'openrouter', state: 'closed', hasKey: true }],
    });
    assert.ok(!text.includes('sk-upstream-test'));
  });

  it('one line per model call with id, route, model, status and timings', async () => {
    upstream.enqueue({ kind: 'json', body: openAiCompletion({ content: `answer ${marker}` }) });
    const res = await post('/v1/chat/completions', JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: `question ${marker}` }] }));
    assert.equal(res.status, 200);
    assert.ok((await res.text()).includes(marker));
    const line = await requestLine(res.headers.get('x-request-id'));
    assert.equal(line.route, 'chat');
    assert.equal(line.model, 'openai/gpt-4o-mini');
    assert.equal(line.status, 200);
    assert.equal(line.upstream, 'primary');
    assert.equal(line.completed, true);
    assert.equal(typeof line.totalMs, 'number');
    assert.equal(typeof line.upstreamMs, 'number');
    assert.ok((line.totalMs as number) >= (line.upstreamMs as number));
  });

  it('a well-formed caller x-request-id is used; a malformed one is replaced', async () => {
    const mine = await post('/v1/embeddings', JSON.stringify({ model: 'text-embedding-3-small', input: [marker] }), { 'x-request-id': 'goose-req.42' });
    assert.equal(mine.headers.get('x-request-id'), 'goose-req.42');
    await mine.arrayBuffer();
    const line = await requestLine('goose-req.42');
    assert.equal(line.route, 'embeddings');
    const odd = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${gw.token}`, 'x-request-id': `has spaces ${marker}` } });
    await odd.arrayBuffer();
    assert.match(odd.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  it('no request or response text reaches the logs, whatever happens to the request', async () => {
    const body = (extra: object = {}) =>
      JSON.stringify({
        model: 'anthropic/claude-sonnet-4',
        messages: [
          { role: 'system', content: `system ${marker}` },
          { role: 'user', content: `user ${marker}` },
          { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'developer__shell', arguments: JSON.stringify({ command: `echo ${marker}` }) } }] },
          { role: 'tool', tool_call_id: 'c1', content: marker },
        ],
        ...extra,
      });
    // streamed answer
    upstream.enqueue({ kind: 'sse', events: openAiStream({ contentPieces: [marker] }) });
    await (await post('/api/v1/chat/completions', body({ stream: true, stream_options: { include_usage: true } }))).text();
    // stream cut mid-way
    upstream.enqueue({ kind: 'sse', events: openAiStream({ contentPieces: [marker, marker] }), cutAfter: 2 });
    await (await post('/v1/chat/completions', body({ stream: true }))).text();
    // upstream error that echoes the prompt
    upstream.enqueue(errorReply(400, `cannot handle ${marker}`));
    await (await post('/v1/chat/completions', body())).text();
    // upstream down after retries
    upstream.enqueue(errorReply(503, marker), errorReply(503, marker), errorReply(503, marker));
    await (await post('/v1/chat/completions', body())).text();
    // Anthropic route
    await (await post('/v1/messages', JSON.stringify({ model: 'anthropic/claude-sonnet-4', max_tokens: 5, messages: [{ role: 'user', content: marker }] }), { 'x-api-key': gw.token })).text();
    // rejected by the gateway: bad token, malformed JSON (the parser's message quotes the body), schema, unknown route
    await (await post('/v1/chat/completions', body(), { authorization: `Bearer ${marker}` })).text();
    await (await post('/v1/chat/completions', `${marker} {`)).text();
    await (await post('/v1/chat/completions', `{"model":"${marker}","messages":"${marker}"}`)).text();
    await (await fetch(`${gw.url}/v1/${marker}?q=${marker}`)).text();

    await waitUntil(() => parsedLogs().filter((l) => l.msg === 'request').length >= 9, 'request lines written');
    const rejected = parsedLogs().filter((l) => l.msg === 'request rejected');
    assert.ok(rejected.some((l) => l.status === 400 && l.code === 'invalid_json'));
    assert.ok(rejected.some((l) => l.status === 404));
    assert.ok(gw.logs.length > 0);
    const leaking = gw.logs.filter((l) => l.toLowerCase().includes(marker));
    assert.deepEqual(leaking.filter((l) => !l.includes('"status":404')), [], 'no body text in logs');
    // The 404 line names the unknown path (the caller's URL), never its query string.
    for (const l of leaking) assert.ok(!l.includes(`q=${marker}`));
    await waitUntil(() => upstream.openConnections() === 0, 'no upstream socket left after the faults');
  });
});
