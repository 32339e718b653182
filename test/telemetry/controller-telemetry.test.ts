import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { createControllerServices } from '../../controller/services.js';
import { buildControllerServer } from '../../controller/server.js';
import { traceLogMixin } from '../../platform/telemetry/log-context.js';
import { startTestController, type TestController } from '../controller/harness.js';
import type { SpanRecord } from '../../platform/telemetry/file-exporter.js';

describe('controller tracing and metrics (fastify hooks over every route)', () => {
  let c: TestController;
  before(async () => {
    c = await startTestController();
  });
  after(() => c.close());

  const spans = async (): Promise<SpanRecord[]> => {
    await c.services.tracing!.forceFlush();
    const path = join(c.dataDir, 'traces', 'controller.jsonl');
    return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as SpanRecord) : [];
  };

  it("joins the caller's trace and names the span by route template, not URL", async () => {
    const traceId = 'a1b2c3d4e5f60718293a4b5c6d7e8f90';
    const res = await c.app.inject({
      method: 'GET',
      url: '/api/v1/profiles/finance?secret=1',
      headers: { authorization: await c.bearer(['admin']), traceparent: `00-${traceId}-1111222233334444-01` },
    });
    assert.ok(res.statusCode < 500);
    const span = (await spans()).find((s) => s.traceId === traceId);
    assert.ok(span, 'span written');
    assert.equal(span.parentSpanId, '1111222233334444');
    assert.equal(span.name, 'GET /api/v1/profiles/:role');
    assert.equal(span.attributes['http.response.status_code'], res.statusCode);
    assert.equal(span.attributes['switchboard.actor'], 'test-admin');
    assert.ok(!JSON.stringify(span).includes('secret=1'));
  });

  it('traces refused requests too', async () => {
    const traceId = 'b1b2c3d4e5f60718293a4b5c6d7e8f90';
    const res = await c.app.inject({ method: 'GET', url: '/api/v1/profiles/finance', headers: { traceparent: `00-${traceId}-1111222233334444-01` } });
    assert.equal(res.statusCode, 401);
    const span = (await spans()).find((s) => s.traceId === traceId);
    assert.equal(span?.attributes['http.response.status_code'], 401);
  });

  it('serves Prometheus text on /metrics with per-route counts and the routing/approval API', async () => {
    c.services.metrics.recordRouting('mesh.forward', 'finance-agent');
    c.services.metrics.recordApproval(42, 'approved');
    const res = await c.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers['content-type'] as string, /^text\/plain/);
    assert.match(res.body, /switchboard_requests_total\{[^}]*route="\/api\/v1\/profiles\/:role"[^}]*status_class="4xx"[^}]*\} 1/);
    assert.match(res.body, /switchboard_request_duration_seconds_bucket\{[^}]*route="\/api\/v1\/profiles\/:role"/);
    assert.match(res.body, /switchboard_routing_decisions_total\{[^}]*decision="mesh.forward"[^}]*\} 1/);
    assert.match(res.body, /switchboard_approval_duration_seconds_bucket\{[^}]*outcome="approved"[^}]*le="60"[^}]*\} 1/);
  });
});

describe('controller log lines inside a traced request', () => {
  it('carry the request trace id (pino mixin), and the request line names the route', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        cb();
      },
    });
    const dataDir = mkdtempSync(join(tmpdir(), 'sb-ctl-log-'));
    const services = await createControllerServices({ dataDir, log: pino({ level: 'info', mixin: traceLogMixin }, sink), telemetry: { sampleRatio: 1, traces: 'file' } });
    const app = await buildControllerServer({ services });
    // A handler that logs through the services' logger, as area code does (not request.log).
    app.get('/test/log-inside', { config: { auth: 'public' } }, async () => {
      await new Promise((r) => setTimeout(r, 5));
      services.log.info({ step: 'inside' }, 'work inside the request');
      return { ok: true };
    });
    await app.ready();
    try {
      const traceId = 'c1b2c3d4e5f60718293a4b5c6d7e8f90';
      const res = await app.inject({ method: 'GET', url: '/test/log-inside', headers: { traceparent: `00-${traceId}-1111222233334444-01` } });
      assert.equal(res.statusCode, 200);
      services.log.info('outside any request');
      const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const inside = parsed.find((l) => l.msg === 'work inside the request');
      assert.equal(inside?.traceId, traceId);
      assert.match(String(inside?.spanId), /^[0-9a-f]{16}$/);
      const request = parsed.find((l) => l.msg === 'controller request' && l.action === 'GET /test/log-inside');
      assert.equal(request?.traceId, traceId);
      assert.equal(request?.spanId, inside?.spanId, 'the request root span');
      assert.equal(parsed.find((l) => l.msg === 'outside any request')?.traceId, undefined);
      for (const l of lines) assert.equal((l.match(/"traceId"/g) ?? []).length <= 1, true, 'one traceId key per line');
    } finally {
      await app.close();
      await services.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
