import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { openGatewayDb } from '../../gateway/store.js';
import { UsageStore } from '../../models/usage-store.js';
import { usageRecord } from './usage-store.test.js';
import { parseSince } from '../../bin/commands/usage.js';

const run = promisify(execFile);
const cli = (args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'bin/switchboard.ts', ...args], { env: { ...process.env, OPENROUTER_API_KEY: '' } }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

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
    const refresh = await cli(['models', 'refresh', '--data-dir', dir, '--upstream', upstream.baseUrl]);
    assert.equal(refresh.code, 0, refresh.stderr);
    assert.match(refresh.stdout, /Stored 2 models \(1 without a usable price left out\) from http:\/\/127\.0\.0\.1:\d+\/v1\/models/);
    assert.equal(upstream.received.at(-1)!.path, '/v1/models');

    const list = await cli(['models', 'list', '--data-dir', dir]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /acme\/big\s+premium\s+10\s+30\s+1\s+200000/);
    assert.match(list.stdout, /acme\/small\s+economy\s+0\.1\s+0\.4\s+-\s+32000/);
    assert.match(list.stdout, /2 models; prices from the refreshed /);

    const json = await cli(['models', 'list', '--data-dir', dir, '--json', '--tier', 'economy']);
    const parsed = JSON.parse(json.stdout) as { source: { kind: string }; models: Array<{ id: string }> };
    assert.equal(parsed.source.kind, 'refreshed');
    assert.deepEqual(parsed.models.map((m) => m.id), ['acme/small']);
  });

  it('refresh failure is one clear line, exit 2, and keeps the current listing', async () => {
    upstream.enqueue({ kind: 'json', status: 503, body: { error: { message: 'down' } } });
    const res = await cli(['models', 'refresh', '--data-dir', dir, '--upstream', upstream.baseUrl]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /^switchboard: models refresh: http:\/\/127\.0\.0\.1:\d+\/v1\/models answered HTTP 503; still using the listing refreshed \S+\n$/);
    const bad = await cli(['models', 'refresh', '--data-dir', dir, '--upstream', 'ftp://x']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--upstream must be an http\(s\) URL/);
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

  it('reports by user as a table with savings and a total row', async () => {
    const res = await cli(['usage', '--data-dir', dir, '--by', 'user']);
    assert.equal(res.code, 0, res.stderr);
    const lines = res.stdout.trim().split('\n');
    assert.match(lines[0]!, /^Usage since /);
    assert.match(res.stdout, /^user\s+requests\s+prompt tok\s+completion tok\s+cached tok\s+cost \$\s+estimated\s+cache hits\s+cache saved \$\s+downshifts\s+downshift saved \$$/m);
    assert.match(res.stdout, /^alice\s+2\s+200\s+20\s+0\s+0\.6000\s+0\s+0\s+0\.0000\s+1\s+0\.3000$/m);
    assert.match(res.stdout, /^bob\s+1\s+100\s+10\s+0\s+0\.0000\s+0\s+1\s+0\.2500\s+0\s+0\.0000$/m);
    assert.match(res.stdout, /^total\s+3\s+300\s+30\s+0\s+0\.6000\s+0\s+1\s+0\.2500\s+1\s+0\.3000$/m);
  });

  it('reports JSON and CSV, and honours --since', async () => {
    const json = JSON.parse((await cli(['usage', '--data-dir', dir, '--by', 'model', '--format', 'json'])).stdout) as { rows: Array<{ key: string }>; total: { requests: number } };
    assert.deepEqual(json.rows.map((r) => r.key), ['anthropic/claude-sonnet-4', 'google/gemini-2.5-flash']);
    assert.equal(json.total.requests, 3);
    const csv = (await cli(['usage', '--data-dir', dir, '--by', 'role', '--format', 'csv', '--since', '90d'])).stdout.trim().split('\n');
    assert.equal(csv[0], 'role,requests,promptTokens,completionTokens,cachedTokens,costUsd,estimatedRequests,cacheHits,cacheSavingsUsd,downshifts,downshiftSavingsUsd');
    assert.equal(csv.length, 4);
    assert.match(csv[3]!, /^total,4,/);
  });

  it('rejects a bad --since or --by with one line and exit 2', async () => {
    const since = await cli(['usage', '--data-dir', dir, '--since', 'yesterday']);
    assert.equal(since.code, 2);
    assert.match(since.stderr, /--since must be a span like 30d/);
    const by = await cli(['usage', '--data-dir', dir, '--by', 'weather']);
    assert.notEqual(by.code, 0);
    assert.match(by.stderr, /Allowed choices are day, role, user, model/);
    assert.equal(parseSince('2026-11-01'), Date.UTC(2026, 10, 1));
    assert.equal(parseSince('2d', 1_000_000_000), 1_000_000_000 - 2 * 86_400_000);
  });
});
