/**
 * Retries never run a generation twice unmetered, and the breaker counts the failures that say
 * an upstream is down (transport, timeouts, 502/503/504 — also after a stream started), not 500s.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { UpstreamConfig } from '../../gateway/config.js';
import { errorReply, openAiStream, startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil } from '../support/wait.js';
import { openGatewayDb } from '../../platform/sqlite.js';
import { UsageStore } from '../../models/usage-store.js';
import type { UsageRecord } from '../../models/usage-record.js';
import { estimatePromptTokens } from '../../gateway/cost/token-estimates.js';

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

let seq = 0;
function chatBody() {
  return { model: 'anthropic/claude-sonnet-4', messages: [{ role: 'user' as const, content: `retry metering request ${++seq}` }] };
}

async function chat(gw: TestGateway, body: object, stream = false) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.token}` },
    body: JSON.stringify(stream ? { ...body, stream: true } : body),
  });
  const text = await res.text();
  return { status: res.status, text, requestId: res.headers.get('x-request-id') };
}

/** The usage record of one request, by its x-request-id. */
async function recordOf(gw: TestGateway, requestId: string | null): Promise<UsageRecord> {
  const db = openGatewayDb(join(gw.dataDir, 'gateway.db'));
  try {
    const store = new UsageStore(db);
    let found: UsageRecord | undefined;
    await waitUntil(() => (found = [...store.records({ since: 0 })].find((r) => r.requestId === requestId)) !== undefined, 'usage record', 5000, 20);
    return found!;
  } finally {
    db.close();
  }
}

async function breakerState(gw: TestGateway, name = 'primary'): Promise<string | undefined> {
  const body = (await (await fetch(`${gw.url}/readyz`)).json()) as { upstreams: Array<{ name: string; state: string }> };
  return body.upstreams.find((u) => u.name === name)?.state;
}

// Sonnet: $3/M prompt, $15/M completion; the scripted reply reports 12 prompt and 5 completion tokens.
const SONNET_PROMPT = 3e-6;
const ANSWER_COST = 12 * 3e-6 + 5 * 15e-6;
const close = (a: number, b: number) => Math.abs(a - b) < 1e-12;

describe('retries and metering', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startScriptedUpstream({ keepAlive: false });
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, config: { breaker: { failureThreshold: 50, cooldownMs: 60_000 } } });
  });
  afterEach(async () => {
    await waitUntil(() => upstream.openConnections() === 0, 'upstream connections closed');
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('a connection lost after the body went out is retried once and the lost attempt is metered as an estimate', async () => {
    const body = chatBody();
    const start = upstream.received.length;
    upstream.enqueue({ kind: 'destroy' });
    const res = await chat(gw, body);
    assert.equal(res.status, 200);
    assert.equal(upstream.received.length - start, 2, 'the upstream saw the request twice');
    const r = await recordOf(gw, res.requestId);
    const lost = estimatePromptTokens(body, 'chat', body.model) * SONNET_PROMPT;
    assert.ok(lost > 0);
    assert.ok(close(r.costUsd, ANSWER_COST + lost), `${r.costUsd} vs ${ANSWER_COST + lost}`);
    assert.equal(r.estimated, true);
  });

  it('never sends a possibly-run request a third time; the 503 still carries the estimated cost', async () => {
    const body = chatBody();
    const start = upstream.received.length;
    // With maxAttempts 3, a third attempt would get the default answer: it must not happen.
    upstream.enqueue({ kind: 'destroy' }, { kind: 'destroy' });
    const res = await chat(gw, body);
    assert.equal(res.status, 503);
    assert.equal(upstream.received.length - start, 2);
    const r = await recordOf(gw, res.requestId);
    assert.equal(r.status, 503);
    assert.ok(close(r.costUsd, 2 * estimatePromptTokens(body, 'chat', body.model) * SONNET_PROMPT), String(r.costUsd));
    assert.equal(r.estimated, true);
  });

  it('an upstream 500 is retried once, and the failed attempt is metered as an estimate', async () => {
    const body = chatBody();
    upstream.enqueue(errorReply(500, 'provider error'));
    const res = await chat(gw, body);
    assert.equal(res.status, 200);
    const r = await recordOf(gw, res.requestId);
    assert.ok(close(r.costUsd, ANSWER_COST + estimatePromptTokens(body, 'chat', body.model) * SONNET_PROMPT), String(r.costUsd));
    assert.equal(r.estimated, true);
  });

  it('429 and 502/503/504 are retried freely: nothing extra is metered', async () => {
    upstream.enqueue(errorReply(429, 'slow down', { 'retry-after': '0' }), errorReply(502, 'bad gateway'));
    const res = await chat(gw, chatBody());
    assert.equal(res.status, 200);
    const r = await recordOf(gw, res.requestId);
    assert.ok(close(r.costUsd, ANSWER_COST), String(r.costUsd));
    assert.equal(r.estimated, false);
  });
});

describe('connection refused before anything was sent', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ upstreamUrl: `http://127.0.0.1:${await closedPort()}/v1` });
  });
  after(async () => {
    await gw.close();
  });

  it('is retried freely and costs nothing', async () => {
    const res = await chat(gw, chatBody());
    assert.equal(res.status, 503);
    assert.equal(gw.logs.filter((l) => l.includes('upstream connect failed, retrying')).length, 2);
    const r = await recordOf(gw, res.requestId);
    assert.equal(r.costUsd, 0);
    assert.equal(r.estimated, false);
  });
});

describe('circuit breaker verdicts', () => {
  let primary: ScriptedUpstream;
  let gw: TestGateway;

  before(async () => {
    primary = await startScriptedUpstream({ keepAlive: false });
    const upstreams: UpstreamConfig[] = [{ name: 'primary', kind: 'openrouter', baseUrl: primary.baseUrl, apiKeyEnv: 'TEST_UPSTREAM_KEY' }];
    gw = await startTestGateway({
      upstreamUrl: primary.baseUrl,
      config: { upstreams, breaker: { failureThreshold: 2, cooldownMs: 60_000 }, retry: { maxAttempts: 2, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1000 } },
    });
  });
  after(async () => {
    await gw.close();
    await primary.close();
  });

  it('500s show the upstream is up: they do not open the breaker', async () => {
    primary.enqueue(errorReply(500, 'a'), errorReply(500, 'b'), errorReply(500, 'c'), errorReply(500, 'd'));
    assert.equal((await chat(gw, chatBody())).status, 500);
    assert.equal((await chat(gw, chatBody())).status, 500);
    assert.equal(await breakerState(gw), 'closed');
  });

  it('streams that break after they started count as failures and open the breaker', async () => {
    const cut = () => ({ kind: 'sse' as const, events: openAiStream({ contentPieces: ['a', 'b', 'c', 'd'] }), cutAfter: 2 });
    primary.enqueue(cut(), cut());
    const first = await chat(gw, chatBody(), true);
    assert.equal(first.status, 200, 'headers were already sent');
    assert.equal(await breakerState(gw), 'closed');
    await chat(gw, chatBody(), true);
    assert.equal(await breakerState(gw), 'open', 'two broken streams opened the breaker');
    const refused = await chat(gw, chatBody());
    assert.equal(refused.status, 503);
    assert.match(refused.text, /primary: circuit open/);
  });
});
