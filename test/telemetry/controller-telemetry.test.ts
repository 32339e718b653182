import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestController, type TestController } from '../controller/harness.js';
import type { SpanRecord } from '../../gateway/telemetry/file-exporter.js';

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
