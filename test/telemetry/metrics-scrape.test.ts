/**
 * Every metric the observability issue lists, scraped from /metrics after real traffic: model
 * calls through a gateway (a cache hit, a downshift, a retried upstream, an error) and approvals
 * decided through the controller's HTTP API. Also: every log line written inside a traced
 * request carries its traceId and spanId, and no log value is a secret.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { openAiCompletion, startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { registerAgent, startMeshController, type MeshTestController } from '../mesh/support.js';
import type { ApprovalStatus } from '../../mesh/contracts.js';

const RULES = `
version: 1
tiers:
  economy: google/gemini-2.5-flash
rules:
  - id: cheap-mini
    match: { models: [openai/gpt-4o] }
    action: { tier: economy }
`;
const EMAIL = 'maria.keller@acme-logistics.de';
const UPSTREAM_KEY = 'sk-upstream-test';

/** The value of one sample line (`name{labels} value`) whose labels include all of `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

describe('gateway /metrics after real traffic', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;
  let dataDir: string;
  let text = '';

  before(async () => {
    upstream = await startScriptedUpstream();
    dataDir = mkdtempSync(join(tmpdir(), 'sb-metrics-'));
    writeFileSync(join(dataDir, 'downshift-rules.yaml'), RULES);
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, dataDir, config: { telemetry: { sampleRatio: 1 } } });
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
    const usage = { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 };
    // 1) a plain call, 2) the same deterministic call again: a cache hit.
    upstream.enqueue({ kind: 'json', body: { ...openAiCompletion({ content: 'Noted.' }), usage } });
    for (let i = 0; i < 2; i++) await client.chat.completions.create({ model: 'openai/gpt-4o-mini', temperature: 0, messages: [{ role: 'user', content: `Mail ${EMAIL} the Q3 report` }] });
    // 3) downshifted by rule cheap-mini, served after one 503: a retried routing decision.
    upstream.enqueue({ kind: 'json', status: 503, body: { error: { message: 'busy' } } }, { kind: 'json', body: { ...openAiCompletion({ content: 'Done.', model: 'google/gemini-2.5-flash' }), usage } });
    await client.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'summarise' }] });
    // 4) an upstream that keeps failing: an error.
    upstream.enqueue(...Array.from({ length: 3 }, () => ({ kind: 'json' as const, status: 500, body: { error: { message: 'down' } } })));
    await assert.rejects(client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'fail please' }] }));
    const res = await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${gw.token}` } });
    assert.equal(res.status, 200);
    text = await res.text();
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('has request rate, latency and errors', () => {
    assert.equal(sample(text, 'switchboard_requests_total', { route: 'chat', status_class: '2xx' }), 3);
    assert.ok((sample(text, 'switchboard_request_duration_seconds_count', { route: 'chat' }) ?? 0) >= 3);
    assert.ok((sample(text, 'switchboard_errors_total', { route: 'chat', status_class: '5xx' }) ?? 0) >= 1);
  });

  it('has tokens, cost and the cache hit rate', () => {
    assert.ok((sample(text, 'switchboard_tokens_total', { kind: 'prompt' }) ?? 0) >= 12);
    assert.ok((sample(text, 'switchboard_tokens_total', { kind: 'completion' }) ?? 0) >= 5);
    assert.ok((sample(text, 'switchboard_cost_usd_total') ?? 0) > 0);
    assert.equal(sample(text, 'switchboard_cache_lookups_total', { result: 'hit' }), 1);
    const ratio = sample(text, 'switchboard_cache_hit_ratio');
    assert.ok(ratio !== undefined && ratio > 0 && ratio < 1, `hit ratio ${ratio}`);
  });

  it('has downshift and routing decisions', () => {
    assert.equal(sample(text, 'switchboard_downshifts_total', { from: 'openai/gpt-4o', to: 'google/gemini-2.5-flash', rule: 'cheap-mini' }), 1);
    assert.ok((sample(text, 'switchboard_routing_decisions_total', { decision: 'direct', target: 'primary' }) ?? 0) >= 1);
    // The 503-then-success call and the failing call both went through retries.
    assert.equal(sample(text, 'switchboard_routing_decisions_total', { decision: 'retried', target: 'primary' }), 2);
  });

  it('every log line written inside a traced request carries its traceId and spanId; no secret is logged', () => {
    const lines = gw.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = lines.filter((l) => l.msg === 'request');
    assert.equal(requests.length, 4);
    for (const r of requests) for (const k of ['tenantId', 'actor', 'action', 'result', 'redactions', 'traceId', 'spanId']) assert.ok(r[k] !== undefined, `request line has ${k}`);
    const traceIds = new Set(requests.map((r) => r.traceId));
    // Lines from inside the pipeline (the downshift stage's debug line): same trace, the stage's own span.
    const inner = lines.filter((l) => l.msg === 'downshift rule applied');
    assert.equal(inner.length, 1);
    assert.ok(traceIds.has(inner[0]!.traceId), 'inner line joins its request trace');
    assert.match(String(inner[0]!.spanId), /^[0-9a-f]{16}$/);
    assert.ok(!requests.some((r) => r.spanId === inner[0]!.spanId), 'the stage span, not the root');
    const all = gw.logs.join('\n');
    for (const secret of [gw.token, UPSTREAM_KEY, EMAIL]) assert.ok(!all.includes(secret), 'no secret or detected value in logs');
  });
});

describe('controller /metrics after real approvals', () => {
  let c: MeshTestController;
  before(async () => {
    c = await startMeshController('sqlite');
    await registerAgent(c, 'ana', 'ana-goose');
    await registerAgent(c, 'mia', 'mia-goose');
  });
  after(() => c.close());

  it('has request rate, latency and approval times by outcome (decided, withdrawn, expired)', async () => {
    const request = async () => {
      const res = await c.call('mia', 'POST', '/api/v1/approvals', { stepId: 'budget', approverRole: 'finance', payload: { budgetUsd: 100 }, deadlineSeconds: 600 });
      assert.equal(res.statusCode, 201, res.body);
      return res.json() as ApprovalStatus;
    };
    const a = await request();
    assert.equal((await c.call('ana', 'POST', `/api/v1/approvals/${a.id}/decision`, { decision: 'approved', payloadHash: a.payloadHash })).statusCode, 200);
    const b = await request();
    assert.equal((await c.call('mia', 'POST', `/api/v1/approvals/${b.id}/withdraw`)).statusCode, 200);
    const d = await request();
    // Past every deadline of the chain: escalations, then expiry (one approval-time sample).
    for (let i = 1; i <= 6 && (await c.call('mia', 'GET', `/api/v1/status/${d.id}`)).json().state === 'requested'; i++) await c.services.mesh.approvals.sweep(Date.now() + i * 11 * 60_000);
    const res = await c.app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    const text = res.body;
    assert.ok((sample(text, 'switchboard_requests_total', { route: '/api/v1/approvals', status_class: '2xx' }) ?? 0) >= 3);
    assert.ok((sample(text, 'switchboard_request_duration_seconds_count', { route: '/api/v1/approvals' }) ?? 0) >= 3);
    assert.equal(sample(text, 'switchboard_approval_duration_seconds_count', { outcome: 'approved' }), 1);
    assert.equal(sample(text, 'switchboard_approval_duration_seconds_count', { outcome: 'withdrawn' }), 1);
    assert.equal(sample(text, 'switchboard_approval_duration_seconds_count', { outcome: 'expired' }), 1);
    assert.ok((sample(text, 'switchboard_approval_duration_seconds_sum', { outcome: 'expired' }) ?? 0) >= 600, 'expired after the whole chain waited');
  });

  it('counts mesh routing decisions by target role', async () => {
    const res = await c.call('mia', 'POST', '/api/v1/tasks/route', { target: 'finance', task: { title: 'check the Q3 invoice totals' } });
    assert.equal(res.statusCode, 202, res.body);
    const text = (await c.app.inject({ method: 'GET', url: '/metrics' })).body;
    assert.equal(sample(text, 'switchboard_routing_decisions_total', { decision: 'mesh.routed', target: 'finance' }), 1);
  });
});
