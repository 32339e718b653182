/**
 * Resilience rules, one test each: retries before the first byte (connect errors, 429, 502/503/504)
 * with Retry-After honoured and bounded attempts; no retry after the first byte; circuit breaker
 * per upstream with a half-open probe; ordered fallback with fallbackModel; 503 when all are down.
 * Scripted upstreams run with keep-alive off, so openConnections() returning to 0 proves no socket hangs.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { UpstreamConfig } from '../../gateway/config.js';
import { parseSse } from '../../gateway/sse.js';
import { errorReply, openAiStream, startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil } from '../support/wait.js';

/** A loopback port with nothing listening on it (connect → ECONNREFUSED). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

let seq = 0;
/** A distinct chat body per call (no temperature 0, so no cache stage answers it). */
function chatBody(extra: Record<string, unknown> = {}) {
  return { model: 'anthropic/claude-sonnet-4', messages: [{ role: 'user', content: `request ${++seq}` }], ...extra };
}

async function chat(gw: TestGateway, body: object, signal?: AbortSignal) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.token}` },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
  return { res, json: res.headers.get('content-type')?.includes('json') ? ((await res.json()) as Record<string, any>) : undefined };
}

/** The per-request log line for a response, found by its x-request-id. */
function requestLog(gw: TestGateway, res: Response): Record<string, unknown> {
  const id = res.headers.get('x-request-id');
  const line = gw.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request' && l.reqId === id);
  assert.ok(line, `log line for ${id}`);
  return line;
}

async function readyz(gw: TestGateway) {
  const res = await fetch(`${gw.url}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; upstreams: Array<{ name: string; state: string }> } };
}

describe('retries before the first byte (one upstream)', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startScriptedUpstream({ keepAlive: false });
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl });
  });
  afterEach(async () => {
    await waitUntil(() => upstream.openConnections() === 0, 'upstream connections closed');
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('retries 502 and 503 and succeeds, sending the same body each time', async () => {
    const start = upstream.received.length;
    upstream.enqueue(errorReply(502, 'bad gateway'), errorReply(503, 'unavailable'));
    const body = chatBody();
    const { res, json } = await chat(gw, body);
    assert.equal(res.status, 200);
    assert.equal(json?.choices[0].message.content, 'Hello from upstream');
    const attempts = upstream.received.slice(start);
    assert.equal(attempts.length, 3);
    for (const a of attempts) assert.equal(a.raw, JSON.stringify(body));
    assert.equal(requestLog(gw, res).attempts, 3);
  });

  it('retries 504', async () => {
    const start = upstream.received.length;
    upstream.enqueue(errorReply(504, 'gateway timeout'));
    const { res } = await chat(gw, chatBody());
    assert.equal(res.status, 200);
    assert.equal(upstream.received.length - start, 2);
  });

  it('retries a connection reset after the body went out once (the upstream may have run it)', async () => {
    const start = upstream.received.length;
    upstream.enqueue({ kind: 'destroy' });
    const { res } = await chat(gw, chatBody());
    assert.equal(res.status, 200);
    assert.equal(upstream.received.length - start, 2);
  });

  it('does not retry a 400; retries a 500 once, then hands the 500 back unchanged', async () => {
    const start = upstream.received.length;
    upstream.enqueue(errorReply(400, 'upstream says bad request'));
    const bad = await chat(gw, chatBody());
    assert.equal(bad.res.status, 400);
    assert.equal(bad.json?.error.message, 'upstream says bad request');
    assert.equal(upstream.received.length - start, 1);
    upstream.enqueue(errorReply(500, 'upstream bug'));
    const recovered = await chat(gw, chatBody());
    assert.equal(recovered.res.status, 200);
    assert.equal(upstream.received.length - start, 3);
    upstream.enqueue(errorReply(500, 'upstream bug'), errorReply(500, 'upstream bug again'));
    const crash = await chat(gw, chatBody());
    assert.equal(crash.res.status, 500);
    assert.equal(crash.json?.error.message, 'upstream bug again');
    assert.equal(upstream.received.length - start, 5, 'one retry, not maxAttempts');
    await chat(gw, chatBody()); // a success resets the breaker's failure count for later tests
  });

  it('429 with Retry-After in seconds: waits that long, then retries', async () => {
    const start = upstream.received.length;
    upstream.enqueue(errorReply(429, 'slow down', { 'retry-after': '1' }));
    const { res } = await chat(gw, chatBody());
    assert.equal(res.status, 200);
    const [first, second] = upstream.received.slice(start);
    assert.ok(first && second);
    assert.ok(second.at - first.at >= 1000, `retry came ${second.at - first.at} ms after the 429, Retry-After was 1 s`);
  });

  it('429 with Retry-After as an HTTP-date: retries no earlier than that date', async () => {
    const start = upstream.received.length;
    const retryAt = new Date(Date.now() + 1500).toUTCString(); // whole seconds: 0.5–1.5 s from now
    upstream.enqueue(errorReply(429, 'slow down', { 'retry-after': retryAt }));
    const { res } = await chat(gw, chatBody());
    assert.equal(res.status, 200);
    const second = upstream.received[start + 1];
    assert.ok(second);
    // Date.now() is whole milliseconds; allow 1 ms of rounding between the two processes' reads.
    assert.ok(second.at >= Date.parse(retryAt) - 1, `retry at ${new Date(second.at).toISOString()}, Retry-After ${retryAt}`);
  });

  it('429 with a Retry-After longer than maxRetryAfterMs goes straight back to the caller with its Retry-After', async () => {
    const start = upstream.received.length;
    upstream.enqueue(errorReply(429, 'rate limited upstream', { 'retry-after': '30' }));
    const { res, json } = await chat(gw, chatBody());
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '30');
    assert.equal(json?.error.message, 'rate limited upstream');
    assert.equal(upstream.received.length - start, 1);
  });

  it('429 without Retry-After backs off and retries', async () => {
    const start = upstream.received.length;
    upstream.enqueue(errorReply(429, 'slow down'));
    const { res } = await chat(gw, chatBody());
    assert.equal(res.status, 200);
    assert.equal(upstream.received.length - start, 2);
  });

  it('attempts are bounded (maxAttempts = 3): the last upstream answer goes back to the caller', async () => {
    const start = upstream.received.length;
    upstream.enqueue(errorReply(503, 'still down 1'), errorReply(503, 'still down 2'), errorReply(503, 'still down 3'));
    const { res, json } = await chat(gw, chatBody());
    assert.equal(res.status, 503);
    assert.equal(json?.error.message, 'still down 3');
    assert.equal(upstream.received.length - start, 3);
    assert.equal((await chat(gw, chatBody())).res.status, 200); // ends the breaker's failure streak
  });

  it('a stream cut after the first byte is not retried: the client gets an error event and a clean end', async () => {
    const start = upstream.received.length;
    // The cut waits until the client has both events: bytes that arrive in the same read as the
    // connection failure can be discarded with the failed body, which is not what this test is about.
    let clientGot = 0;
    const cutWhenClientHasTwo = (index: number) => (index < 2 ? undefined : waitUntil(() => clientGot >= 2, 'client received two events'));
    upstream.enqueue({ kind: 'sse', events: openAiStream({ contentPieces: ['a', 'b', 'c', 'd'] }), cutAfter: 2, beforeEvent: cutWhenClientHasTwo });
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.token}` },
      body: JSON.stringify(chatBody({ stream: true })),
    });
    assert.equal(res.status, 200);
    const events = [];
    for await (const e of parseSse(res.body!)) {
      events.push(e);
      clientGot++;
    }
    assert.equal(events.length, 3);
    assert.match(events[1]!.data!, /"content":"a"/);
    const last = JSON.parse(events[2]!.data!) as { error: { message: string; type: string; code: string } };
    assert.equal(last.error.code, 'stream_interrupted');
    assert.match(last.error.message, /interrupted/);
    assert.equal(upstream.received.length - start, 1, 'no second attempt after bytes went out');
    assert.equal(requestLog(gw, res).completed, false);
  });
});

describe('connect errors', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startTestGateway({ upstreamUrl: `http://127.0.0.1:${await closedPort()}/v1` });
  });
  after(async () => {
    await gw.close();
  });

  it('connection refused is retried up to maxAttempts, then 503 naming the cause', async () => {
    const { res, json } = await chat(gw, chatBody());
    assert.equal(res.status, 503);
    assert.equal(json?.error.code, 'upstream_unavailable');
    assert.match(json?.error.message, /No upstream could take the request \(primary: ECONNREFUSED/);
    const retries = gw.logs.filter((l) => l.includes('upstream connect failed, retrying'));
    assert.equal(retries.length, 2, 'two retries after the first refusal');
  });
});

describe('circuit breaker and fallback upstream', () => {
  let primary: ScriptedUpstream;
  let local: ScriptedUpstream;
  let gw: TestGateway;
  const cooldownMs = 30_000;
  let now = 1_000_000;
  const clock = () => now;

  before(async () => {
    primary = await startScriptedUpstream({ keepAlive: false });
    local = await startScriptedUpstream({ keepAlive: false });
    const upstreams: UpstreamConfig[] = [
      { name: 'primary', kind: 'openrouter', baseUrl: primary.baseUrl, apiKeyEnv: 'TEST_UPSTREAM_KEY' },
      { name: 'ollama', kind: 'ollama', baseUrl: local.baseUrl, fallbackModel: 'llama3.2:3b' },
    ];
    gw = await startTestGateway({
      upstreamUrl: primary.baseUrl,
      clock,
      config: { upstreams, breaker: { failureThreshold: 2, cooldownMs }, retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1000 } },
    });
  });
  afterEach(async () => {
    await waitUntil(() => primary.openConnections() === 0 && local.openConnections() === 0, 'upstream connections closed');
  });
  after(async () => {
    await gw.close();
    await primary.close();
    await local.close();
  });

  it('a failing primary falls over to the local upstream with its fallbackModel; the rest of the body is unchanged', async () => {
    primary.enqueue(errorReply(503, 'overloaded'));
    const body = chatBody({ tools: [{ type: 'function', function: { name: 'developer__shell', parameters: { type: 'object' } } }] });
    const { res, json } = await chat(gw, body);
    assert.equal(res.status, 200);
    assert.equal(json?.model, 'llama3.2:3b');
    const got = local.received.at(-1)!;
    assert.deepEqual(got.body, { ...body, model: 'llama3.2:3b' });
    assert.equal(got.headers.authorization, undefined, 'no key for the local upstream, and never the caller token');
    const log = requestLog(gw, res);
    assert.equal(log.upstream, 'ollama');
    assert.equal(log.upstreamModel, 'llama3.2:3b');
    assert.equal(log.model, 'anthropic/claude-sonnet-4');
  });

  it('the breaker opens after N failures and further requests skip the primary; a half-open probe closes it', async () => {
    primary.enqueue(errorReply(502, 'down'));
    assert.equal((await chat(gw, chatBody())).res.status, 200); // second consecutive failure: breaker opens
    let ready = await readyz(gw);
    assert.equal(ready.status, 200, 'the fallback is still up');
    assert.equal(ready.body.upstreams.find((u) => u.name === 'primary')?.state, 'open');

    const primaryCalls = primary.received.length;
    const localCalls = local.received.length;
    for (let i = 0; i < 3; i++) assert.equal((await chat(gw, chatBody())).res.status, 200);
    assert.equal(primary.received.length, primaryCalls, 'primary skipped while open');
    assert.equal(local.received.length, localCalls + 3);

    now += cooldownMs - 1;
    assert.equal((await readyz(gw)).body.upstreams.find((u) => u.name === 'primary')?.state, 'open');
    await chat(gw, chatBody());
    assert.equal(primary.received.length, primaryCalls, 'still skipped 1 ms before the cooldown ends');
    now += 1;
    ready = await readyz(gw);
    assert.equal(ready.body.upstreams.find((u) => u.name === 'primary')?.state, 'half-open');
    const probe = await chat(gw, chatBody());
    assert.equal(probe.res.status, 200);
    assert.equal(primary.received.length, primaryCalls + 1, 'the probe went to the primary');
    assert.equal(requestLog(gw, probe.res).upstream, 'primary');
    ready = await readyz(gw);
    assert.equal(ready.body.upstreams.find((u) => u.name === 'primary')?.state, 'closed');
    await chat(gw, chatBody());
    assert.equal(primary.received.length, primaryCalls + 2);
  });

  it('a probe whose client goes away does not wedge the breaker half-open', async () => {
    primary.enqueue(errorReply(503, 'down'), errorReply(503, 'down'));
    await chat(gw, chatBody());
    await chat(gw, chatBody());
    now += cooldownMs;
    primary.enqueue({ kind: 'hang' });
    const ac = new AbortController();
    const before = primary.received.length;
    const pending = chat(gw, chatBody(), ac.signal).catch((err: unknown) => err);
    await waitUntil(() => primary.received.length === before + 1, 'probe reached the primary');
    ac.abort();
    await pending;
    await waitUntil(() => primary.openConnections() === 0, 'gateway closed the hanging probe');
    const next = await chat(gw, chatBody());
    assert.equal(next.res.status, 200);
    assert.equal(requestLog(gw, next.res).upstream, 'primary', 'the next caller probes the primary again');
  });
});

describe('every upstream down', () => {
  let gw: TestGateway;

  before(async () => {
    const upstreams: UpstreamConfig[] = [
      { name: 'primary', kind: 'openrouter', baseUrl: `http://127.0.0.1:${await closedPort()}/api/v1` },
      { name: 'ollama', kind: 'ollama', baseUrl: `http://127.0.0.1:${await closedPort()}/v1`, fallbackModel: 'llama3.2:3b' },
    ];
    gw = await startTestGateway({ upstreamUrl: 'http://unused.invalid', config: { upstreams, breaker: { failureThreshold: 1, cooldownMs: 60_000 } } });
  });
  after(async () => {
    await gw.close();
  });

  it('503 with a message naming each upstream; /readyz turns 503; later calls fail fast on open breakers', async () => {
    assert.equal((await readyz(gw)).status, 200);
    const first = await chat(gw, chatBody());
    assert.equal(first.res.status, 503);
    assert.match(first.json?.error.message, /^No upstream could take the request \(primary: ECONNREFUSED .*; ollama: ECONNREFUSED .*\)$/);
    const ready = await readyz(gw);
    assert.equal(ready.status, 503);
    assert.equal(ready.body.status, 'unavailable');
    assert.deepEqual(ready.body.upstreams.map((u) => u.state), ['open', 'open']);
    const second = await chat(gw, chatBody());
    assert.equal(second.res.status, 503);
    assert.equal(second.json?.error.message, 'No upstream could take the request (primary: circuit open; ollama: circuit open)');
  });
});
