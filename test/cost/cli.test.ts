/**
 * `switchboard models` and `switchboard usage`, run in-process (spawning the CLI costs seconds
 * per call); CliError → one line + exit 2 is the entry point's contract, tested in test/cli.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { openGatewayDb } from '../../platform/sqlite.js';
import { UsageStore } from '../../models/usage-store.js';
import { usageRecord } from './records.js';
import { parseSince, usageReport } from '../../bin/commands/usage.js';
import { modelsList, modelsRefresh } from '../../bin/commands/models.js';
import { CliError } from '../../bin/cli-support.js';

describe('switchboard models', () => {
  let upstream: ScriptedUpstream;
  let dir: string;
  before(async () => {
    upstream = await startScriptedUpstream();
    dir = mkdtempSync(join(tmpdir(), 'sb-models-cli-'));
  });
  after(async () => {
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('list shows the shipped snapshot until a refresh', () => {
    const out = modelsList({ dataDir: dir });
    assert.match(out, /^model\s+tier\s+prompt \$\/M\s+completion \$\/M\s+cache read \$\/M\s+context$/m);
    assert.match(out, /^anthropic\/claude-sonnet-4\s+premium\s+3\s+15\s+0\.3\s+1000000$/m);
    assert.match(out, /\d+ models; prices from the shipped snapshot taken \d{4}-\d{2}-\d{2}\./);
  });

  it('refresh stores the upstream listing under the data dir; list then shows it', async () => {
    upstream.enqueue({
      kind: 'json',
      body: {
        data: [
          { id: 'acme/big', name: 'Acme Big', context_length: 200000, pricing: { prompt: '0.00001', completion: '0.00003', input_cache_read: '0.000001' } },
          { id: 'acme/small', context_length: 32000, pricing: { prompt: '0.0000001', completion: '0.0000004' } },
          { id: 'openrouter/auto', pricing: { prompt: '-1', completion: '-1' } },
        ],
      },
    });
    const refresh = await modelsRefresh({ dataDir: dir, upstream: upstream.baseUrl });
    assert.match(refresh, /^Stored 2 models \(1 without a usable price left out\) from http:\/\/127\.0\.0\.1:\d+\/v1\/models in .*models\/openrouter-models\.json\n$/);
    assert.equal(upstream.received.at(-1)!.path, '/v1/models');

    const list = modelsList({ dataDir: dir });
    assert.match(list, /^acme\/big\s+premium\s+10\s+30\s+1\s+200000$/m);
    assert.match(list, /^acme\/small\s+economy\s+0\.1\s+0\.4\s+-\s+32000$/m);
    assert.match(list, /2 models; prices from the refreshed /);

    const parsed = JSON.parse(modelsList({ dataDir: dir, json: true, tier: 'economy' })) as { source: { kind: string }; models: Array<{ id: string }> };
    assert.equal(parsed.source.kind, 'refreshed');
    assert.deepEqual(parsed.models.map((m) => m.id), ['acme/small']);
  });

  it('refresh failures are clear CLI errors and keep the current listing', async () => {
    upstream.enqueue({ kind: 'json', status: 503, body: { error: { message: 'down' } } });
    await assert.rejects(modelsRefresh({ dataDir: dir, upstream: upstream.baseUrl }), (e: unknown) => {
      assert.ok(e instanceof CliError);
      assert.match(e.message, /^models refresh: http:\/\/127\.0\.0\.1:\d+\/v1\/models answered HTTP 503; still using the listing refreshed \S+$/);
      return true;
    });
    upstream.enqueue({ kind: 'json', body: { object: 'list', data: [{ id: 'no/price' }] } });
    await assert.rejects(modelsRefresh({ dataDir: dir, upstream: upstream.baseUrl }), /listed no model with a price; nothing stored/);
    await assert.rejects(modelsRefresh({ dataDir: dir, upstream: 'ftp://x' }), /--upstream must be an http\(s\) URL/);
    assert.match(modelsList({ dataDir: dir }), /acme\/big/);
  });
});

describe('switchboard usage', () => {
  let dir: string;
  const now = Date.now();
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-usage-cli-'));
    const db = openGatewayDb(join(dir, 'gateway.db'));
    const store = new UsageStore(db);
    store.record(usageRecord({ id: 'a', ts: now - 1000, costUsd: 0.5 }));
    store.record(usageRecord({ id: 'b', ts: now - 2000, userId: 'bob', role: 'finance', costUsd: 0, cacheHit: true, baselineCostUsd: 0.25 }));
    store.record(usageRecord({ id: 'c', ts: now - 3000, modelUsed: 'google/gemini-2.5-flash', costUsd: 0.1, downshiftRule: 'r', downshiftReason: 'x', baselineCostUsd: 0.4 }));
    store.record(usageRecord({ id: 'old', ts: now - 60 * 86_400_000, costUsd: 100 }));
    store.close();
    db.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reports by user as a table with savings and a total row', () => {
    const out = usageReport({ dataDir: dir, by: 'user', since: '30d', format: 'table' });
    assert.match(out, /^Usage since /);
    assert.match(out, /^user\s+requests\s+prompt tok\s+completion tok\s+cached tok\s+cost \$\s+estimated\s+cache hits\s+cache saved \$\s+downshifts\s+downshift saved \$$/m);
    assert.match(out, /^alice\s+2\s+200\s+20\s+0\s+0\.6000\s+0\s+0\s+0\.0000\s+1\s+0\.3000$/m);
    assert.match(out, /^bob\s+1\s+100\s+10\s+0\s+0\.0000\s+0\s+1\s+0\.2500\s+0\s+0\.0000$/m);
    assert.match(out, /^total\s+3\s+300\s+30\s+0\s+0\.6000\s+0\s+1\s+0\.2500\s+1\s+0\.3000$/m);
  });

  it('reports JSON and CSV, and honours --since and --tenant', () => {
    const json = JSON.parse(usageReport({ dataDir: dir, by: 'model', since: '30d', format: 'json' })) as { rows: Array<{ key: string }>; total: { requests: number } };
    assert.deepEqual(json.rows.map((r) => r.key), ['anthropic/claude-sonnet-4', 'google/gemini-2.5-flash']);
    assert.equal(json.total.requests, 3);
    const csv = usageReport({ dataDir: dir, by: 'role', since: '90d', format: 'csv' }).trim().split('\n');
    assert.equal(csv[0], 'role,requests,promptTokens,completionTokens,cachedTokens,costUsd,estimatedRequests,cacheHits,cacheSavingsUsd,downshifts,downshiftSavingsUsd');
    assert.equal(csv.length, 4);
    assert.match(csv[3]!, /^total,4,/);
    assert.match(usageReport({ dataDir: dir, by: 'day', since: '30d', format: 'table', tenant: 'nobody' }), /^No usage recorded since /);
  });

  it('counts only answered downshifts, and rounds JSON and CSV costs to the micro-dollar', () => {
    const d = mkdtempSync(join(tmpdir(), 'sb-usage-round-'));
    try {
      const db = openGatewayDb(join(d, 'gateway.db'));
      const store = new UsageStore(db);
      const shift = { downshiftRule: 'summaries', downshiftReason: 'task summary', modelUsed: 'google/gemini-2.5-flash' };
      store.record(usageRecord({ id: 'ok', ts: now - 1000, costUsd: 0.1, baselineCostUsd: 0.3, ...shift }));
      store.record(usageRecord({ id: 'ok2', ts: now - 1500, costUsd: 0.2 }));
      // Refused after the rule matched: by the budget, and by the upstream.
      store.record(usageRecord({ id: 'refused', ts: now - 2000, costUsd: 0, status: 402, baselineCostUsd: 0.3, ...shift }));
      store.record(usageRecord({ id: 'failed', ts: now - 3000, costUsd: 0, status: 503, ...shift }));
      store.close();
      db.close();
      const json = JSON.parse(usageReport({ dataDir: d, by: 'role', since: '30d', format: 'json' })) as {
        total: { costUsd: number; downshifts: number; downshiftSavingsUsd: number };
      };
      assert.equal(json.total.downshifts, 1);
      assert.equal(json.total.costUsd, 0.3, 'no float noise (0.1 + 0.2)');
      assert.equal(json.total.downshiftSavingsUsd, 0.2);
      const csv = usageReport({ dataDir: d, by: 'role', since: '30d', format: 'csv' }).trim().split('\n');
      assert.equal(csv[2], 'total,4,400,40,0,0.3,0,0,0,1,0.2');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  it('parses --since spans and dates, and rejects anything else', () => {
    assert.equal(parseSince('2026-11-01'), Date.UTC(2026, 10, 1));
    assert.equal(parseSince('2d', 1_000_000_000), 1_000_000_000 - 2 * 86_400_000);
    assert.throws(() => parseSince('yesterday'), (e: unknown) => e instanceof CliError && /--since must be a span like 30d/.test(e.message));
  });
});
