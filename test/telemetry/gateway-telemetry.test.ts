import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { openAiCompletion, openAiStream, startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import type { SpanRecord } from '../../platform/telemetry/file-exporter.js';

function readSpans(dataDir: string): SpanRecord[] {
  const path = join(dataDir, 'traces', 'gateway.jsonl');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as SpanRecord);
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;

describe('gateway tracing at 100% sampling (file exporter)', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;
  let openai: OpenAI;
  let spans: SpanRecord[] = [];
  const upstreamParents: string[] = [];

  before(async () => {
    upstream = await startScriptedUpstream();
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, config: { telemetry: { sampleRatio: 1 } } });
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
    upstream.enqueue({ kind: 'json', body: openAiCompletion({ content: 'Hello there' }) });
    await openai.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Mail maria.keller@acme-logistics.de please' }] });
    upstream.enqueue({ kind: 'sse', events: openAiStream({ contentPieces: ['Str', 'eam'] }) });
    const stream = await openai.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'stream it' }], stream: true });
    for await (const _chunk of stream) void _chunk;
    for (const r of upstream.received) upstreamParents.push(String(r.headers['traceparent'] ?? ''));
    await gw.server.services.tracing!.forceFlush();
    spans = readSpans(gw.dataDir);
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('writes one root span per request and a child span per stage, stream and finish hook', () => {
    const roots = spans.filter((s) => s.name === 'gateway.request');
    assert.equal(roots.length, 2);
    for (const root of roots) {
      assert.equal(root.parentSpanId, undefined);
      const children = spans.filter((s) => s.traceId === root.traceId && s.parentSpanId === root.spanId).map((s) => s.name);
      for (const name of ['authenticate', 'loadPolicy', 'privacyGuard', 'budgetCheck', 'downshift', 'forward', 'stream', 'meter', 'audit']) {
        assert.ok(children.includes(name), `span ${name} in ${children.join(',')}`);
      }
      assert.equal(root.attributes['http.response.status_code'], 200);
      assert.equal(root.attributes['switchboard.route'], 'chat');
      assert.equal(root.service, 'switchboard-gateway');
    }
  });

  it('sends the forward span as traceparent to the upstream', () => {
    assert.equal(upstreamParents.length, 2);
    for (const header of upstreamParents) {
      const m = TRACEPARENT.exec(header);
      assert.ok(m, `traceparent ${header}`);
      const forward = spans.find((s) => s.spanId === m[2]);
      assert.equal(forward?.name, 'forward');
      assert.equal(forward?.traceId, m[1]);
      assert.equal(m[3], '01');
    }
  });

  it('puts the trace id in the audit event and in the request log line', () => {
    const rootIds = new Set(spans.filter((s) => s.name === 'gateway.request').map((s) => s.traceId));
    const events = [...gw.server.services.controllerLink.audit!.spool.events()];
    // Each request writes a `model.forwarded` record before the upstream call and its completion after.
    assert.deepEqual(events.map((e) => e.action).sort(), ['model.call', 'model.call', 'model.forwarded', 'model.forwarded']);
    for (const e of events) assert.ok(rootIds.has(e.traceId), `audit traceId ${e.traceId}`);
    const lines = gw.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request');
    assert.equal(lines.length, 2);
    for (const line of lines) {
      assert.ok(rootIds.has(String(line.traceId)));
      assert.match(String(line.spanId), /^[0-9a-f]{16}$/);
      assert.equal(line.tenantId, 'local');
      assert.equal(line.actor, 'local-user');
      assert.equal(line.action, 'model.call');
      assert.equal(line.result, 'ok');
      assert.equal(typeof line.redactions, 'number');
    }
    const masked = lines.find((l) => (l.redactions as number) > 0);
    assert.ok(masked, `the e-mail address was counted as a redaction: ${JSON.stringify(lines)}`);
  });

  it('never writes prompt text or detected values into spans', () => {
    const text = readFileSync(join(gw.dataDir, 'traces', 'gateway.jsonl'), 'utf8');
    assert.ok(!text.includes('maria.keller@acme-logistics.de'));
    assert.ok(!text.includes('Mail '));
    assert.ok(!text.includes('Hello there'));
  });
});

describe('gateway tracing sampling', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startScriptedUpstream();
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, config: { telemetry: { sampleRatio: 0 } } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const chat = (headers: Record<string, string> = {}) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });

  it('at ratio 0 writes no spans but still propagates an unsampled traceparent and logs the trace id', async () => {
    const res = await chat();
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    await gw.server.services.tracing!.forceFlush();
    assert.equal(readSpans(gw.dataDir).length, 0);
    const m = TRACEPARENT.exec(String(upstream.received.at(-1)!.headers['traceparent']));
    assert.ok(m);
    assert.equal(m[3], '00');
    const line = gw.logs.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'request').at(-1)!;
    assert.equal(line.traceId, m[1]);
  });

  it("continues a caller's sampled trace even at ratio 0", async () => {
    const callerTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
    const res = await chat({ traceparent: `00-${callerTrace}-00f067aa0ba902b7-01` });
    await res.arrayBuffer();
    await gw.server.services.tracing!.forceFlush();
    const spans = readSpans(gw.dataDir).filter((s) => s.traceId === callerTrace);
    const root = spans.find((s) => s.name === 'gateway.request');
    assert.equal(root?.parentSpanId, '00f067aa0ba902b7');
    assert.ok(spans.some((s) => s.name === 'forward'));
    assert.match(String(upstream.received.at(-1)!.headers['traceparent']), new RegExp(`^00-${callerTrace}-[0-9a-f]{16}-01$`));
  });

  it('ignores a malformed traceparent from the caller', async () => {
    const res = await chat({ traceparent: '00-zzzz-not-a-trace' });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.match(String(upstream.received.at(-1)!.headers['traceparent']), TRACEPARENT);
    assert.ok(!String(upstream.received.at(-1)!.headers['traceparent']).includes('zzzz'));
  });
});

describe('gateway /metrics', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startScriptedUpstream();
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, config: { telemetry: { traces: 'off' } } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('refuses callers without the local token', async () => {
    assert.equal((await fetch(`${gw.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${gw.url}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status, 401);
  });

  it('serves Prometheus text with request, latency, token, cost, cache and error metrics', async () => {
    const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
    const body = { model: 'openai/gpt-4o-mini', temperature: 0, messages: [{ role: 'user' as const, content: `metrics ${Date.now()}` }] };
    upstream.enqueue({ kind: 'json', body: openAiCompletion({ content: 'one' }) });
    await openai.chat.completions.create(body);
    await openai.chat.completions.create(body); // exact-cache hit
    upstream.enqueue({ kind: 'json', status: 500, body: { error: { message: 'boom' } } });
    upstream.enqueue({ kind: 'json', status: 500, body: { error: { message: 'boom' } } });
    upstream.enqueue({ kind: 'json', status: 500, body: { error: { message: 'boom' } } });
    await openai.chat.completions.create({ ...body, messages: [{ role: 'user', content: 'fails' }] }).catch(() => undefined);

    const res = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${gw.token}` } });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /switchboard_requests_total\{[^}]*route="chat"[^}]*status_class="2xx"[^}]*\} 2/);
    assert.match(text, /switchboard_errors_total\{[^}]*status_class="5xx"[^}]*\} 1/);
    assert.match(text, /switchboard_request_duration_seconds_bucket\{[^}]*le="0.1"[^}]*\} \d+/);
    assert.match(text, /switchboard_tokens_total\{[^}]*kind="prompt"[^}]*\} \d+/);
    assert.match(text, /switchboard_cost_usd_total\{[^}]*model="openai\/gpt-4o-mini"[^}]*\} [0-9.e-]+/);
    assert.match(text, /switchboard_cache_lookups_total\{[^}]*result="hit"[^}]*\} 1/);
    assert.match(text, /switchboard_cache_hit_ratio[^\n]* 0\.333/);
    assert.match(text, /switchboard_routing_decisions_total\{[^}]*target="primary"[^}]*\} \d+/);
    assert.ok(!text.includes('metrics '), 'no prompt text in labels');
  });
});
