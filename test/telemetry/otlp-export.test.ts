import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { resolveTelemetryConfig } from '../../platform/telemetry/config.js';

/** A stand-in OTLP/HTTP collector: records which signal paths were posted to. */
describe('OTLP export when an endpoint is configured', () => {
  let collector: Server;
  const received: Array<{ path: string; type: string; bytes: number }> = [];
  let upstream: ScriptedUpstream;
  let gw: TestGateway;

  before(async () => {
    collector = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ path: req.url ?? '', type: String(req.headers['content-type']), bytes: Buffer.concat(chunks).length });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    upstream = await startScriptedUpstream();
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, OTEL_TRACES_SAMPLER_ARG: '1' }, config: { telemetry: { metricsIntervalMs: 1000 } } });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    collector.closeAllConnections();
    await new Promise<void>((r) => collector.close(() => r()));
  });

  it('sends spans to /v1/traces and metrics to /v1/metrics', async () => {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.arrayBuffer();
    await gw.server.services.tracing!.forceFlush();
    for (let i = 0; i < 50 && !received.some((r) => r.path === '/v1/metrics'); i++) await new Promise((r) => setTimeout(r, 100));
    const traces = received.filter((r) => r.path === '/v1/traces');
    assert.ok(traces.length >= 1 && traces[0]!.bytes > 0, JSON.stringify(received));
    assert.ok(received.some((r) => r.path === '/v1/metrics' && r.bytes > 0), JSON.stringify(received));
  });

  it('environment switches traces to OTLP; a bad endpoint or ratio is one clear error', () => {
    assert.equal(resolveTelemetryConfig(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).traces, 'otlp');
    assert.equal(resolveTelemetryConfig({ traces: 'off' }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).traces, 'off');
    assert.throws(() => resolveTelemetryConfig(undefined, { OTEL_EXPORTER_OTLP_ENDPOINT: 'grpc://c' }), /http\(s\):\/\/ URL/);
    assert.throws(() => resolveTelemetryConfig(undefined, { SWITCHBOARD_TRACE_SAMPLE_RATIO: '5' }), /number from 0 to 1/);
    assert.throws(() => resolveTelemetryConfig({ traces: 'otlp' }, {}), /no endpoint/);
    assert.equal(resolveTelemetryConfig(undefined, {}).sampleRatio, 0.05);
  });
});
