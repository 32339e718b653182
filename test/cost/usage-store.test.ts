import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGatewayDb, type GatewayDb } from '../../platform/sqlite.js';
import { UsageStore } from '../../models/usage-store.js';
import { T0, usageRecord } from './records.js';

const DAY = 86_400_000;

describe('usage store', () => {
  let dir: string;
  let db: GatewayDb;
  let store: UsageStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-usage-'));
    db = openGatewayDb(join(dir, 'gateway.db'));
    store = new UsageStore(db);
  });
  afterEach(() => {
    store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips every field, including optional ones', () => {
    const full = usageRecord({
      id: 'r1', sessionId: '20251108_1', taskId: 'task-9', taskKind: 'compaction', cachedTokens: 40, estimated: true,
      downshiftRule: 'summaries-to-flash', downshiftReason: 'task compaction', baselineCostUsd: 0.05, modelUsed: 'google/gemini-2.5-flash',
    });
    const bare = usageRecord({ id: 'r2', ts: T0 + 1 });
    store.record(full);
    store.record(bare);
    assert.equal(store.pending(), 2);
    assert.deepEqual([...store.records({ since: 0 })], [full, bare]);
    assert.equal(store.pending(), 0);
  });

  it('batches queued records into one commit on the next turn', async () => {
    for (let i = 0; i < 50; i++) store.record(usageRecord({ id: `b${i}` }));
    const count = () => (db.prepare('SELECT COUNT(*) AS n FROM usage_records').get() as { n: number }).n;
    assert.equal(count(), 0);
    await new Promise((r) => setImmediate(r));
    assert.equal(count(), 50);
  });

  it('summarizes by day, role, user and model with cache and downshift savings', () => {
    store.record(usageRecord({ id: 'a', costUsd: 0.02 }));
    store.record(usageRecord({ id: 'b', ts: T0 + DAY, userId: 'bob', role: 'finance', costUsd: 0, cacheHit: true, baselineCostUsd: 0.03 }));
    store.record(usageRecord({ id: 'c', ts: T0 + DAY, modelUsed: 'google/gemini-2.5-flash', costUsd: 0.001, downshiftRule: 'r1', downshiftReason: 'x', baselineCostUsd: 0.011 }));
    store.record(usageRecord({ id: 'd', ts: T0 - 40 * DAY, costUsd: 5 }));

    const byDay = store.summarize({ since: T0 - DAY }, 'day');
    assert.deepEqual(byDay.map((r) => [r.key, r.requests]), [['2026-11-20', 1], ['2026-11-21', 2]]);
    const day2 = byDay[1]!;
    assert.equal(day2.cacheHits, 1);
    assert.ok(Math.abs(day2.cacheSavingsUsd - 0.03) < 1e-12);
    assert.equal(day2.downshifts, 1);
    assert.ok(Math.abs(day2.downshiftSavingsUsd - 0.01) < 1e-12);

    assert.deepEqual(store.summarize({ since: T0 - DAY }, 'role').map((r) => r.key), ['engineering', 'finance']);
    assert.deepEqual(store.summarize({ since: T0 - DAY }, 'user').map((r) => [r.key, r.requests]), [['alice', 2], ['bob', 1]]);
    assert.deepEqual(store.summarize({ since: T0 - DAY }, 'model').map((r) => r.key), ['anthropic/claude-sonnet-4', 'google/gemini-2.5-flash']);

    const total = store.total({ since: T0 - DAY });
    assert.equal(total.requests, 3);
    assert.ok(Math.abs(total.costUsd - 0.021) < 1e-12);
    assert.equal(store.total({ since: 0, tenantId: 'other' }).requests, 0);
  });

  it('sums spend per tenant, role and user since a time', () => {
    store.record(usageRecord({ id: 'a', costUsd: 1 }));
    store.record(usageRecord({ id: 'b', userId: 'bob', costUsd: 2 }));
    store.record(usageRecord({ id: 'c', role: 'finance', userId: 'carol', costUsd: 4 }));
    store.record(usageRecord({ id: 'd', tenantId: 'other', costUsd: 8 }));
    store.record(usageRecord({ id: 'e', ts: T0 - DAY, costUsd: 16 }));
    assert.equal(store.spentSince({ kind: 'tenant', tenantId: 'acme' }, T0), 7);
    assert.equal(store.spentSince({ kind: 'role', tenantId: 'acme', role: 'engineering' }, T0), 3);
    assert.equal(store.spentSince({ kind: 'user', tenantId: 'acme', userId: 'alice' }, T0), 1);
    assert.equal(store.spentSince({ kind: 'user', tenantId: 'acme', userId: 'alice' }, T0 - DAY), 17);
  });

  it('purges records past retention', () => {
    store.record(usageRecord({ id: 'old', ts: T0 - 100 * DAY }));
    store.record(usageRecord({ id: 'new' }));
    assert.equal(store.purgeOlderThan(T0 - 90 * DAY), 1);
    assert.deepEqual([...store.records({ since: 0 })].map((r) => r.id), ['new']);
  });

  it('is append-only: a repeated id is refused, never replaces a row, and rows cannot be updated', () => {
    store.record(usageRecord({ id: 'same', requestId: 'client-1', costUsd: 0.5 }));
    store.flush();
    store.record(usageRecord({ id: 'same', requestId: 'client-1', costUsd: 0.001 }));
    assert.throws(() => store.flush(), /UNIQUE/);
    assert.equal(store.total({ since: 0 }).costUsd, 0.5);
    assert.throws(() => db.prepare('UPDATE usage_records SET cost_usd = 0').run(), /append-only/);
    assert.deepEqual([...store.records({ since: 0 })].map((r) => [r.id, r.requestId]), [['same', 'client-1']]);
  });

  it('upgrades a database written by the previous version: rows kept, their id kept as request id', () => {
    store.close();
    db.close();
    rmSync(join(dir, 'gateway.db'));
    db = openGatewayDb(join(dir, 'gateway.db'));
    // The version-1 table as older gateways created it, with one row whose id was the caller's x-request-id.
    db.exec(`CREATE TABLE usage_records (id TEXT PRIMARY KEY, ts INTEGER NOT NULL, tenant_id TEXT NOT NULL, user_id TEXT NOT NULL,
      role TEXT NOT NULL, session_id TEXT, task_id TEXT, task_kind TEXT, route TEXT NOT NULL, model_requested TEXT NOT NULL,
      model_used TEXT NOT NULL, prompt_tokens INTEGER NOT NULL, completion_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL,
      cost_usd REAL NOT NULL, estimated INTEGER NOT NULL, latency_ms REAL NOT NULL, status INTEGER NOT NULL, cache_hit INTEGER NOT NULL,
      downshift_rule TEXT, downshift_reason TEXT, baseline_cost_usd REAL)`);
    db.prepare("INSERT INTO schema_migrations (module, version) VALUES ('usage', 1)").run();
    db.prepare(`INSERT INTO usage_records VALUES ('req-old', ${T0}, 'acme', 'alice', 'engineering', NULL, NULL, NULL, 'chat',
      'm', 'm', 10, 1, 0, 0.25, 0, 5, 200, 0, NULL, NULL, NULL)`).run();
    store = new UsageStore(db);
    store.record(usageRecord({ id: 'new-row', requestId: 'req-old', ts: T0 + 1, costUsd: 0.5 }));
    const rows = [...store.records({ since: 0 })];
    assert.deepEqual(rows.map((r) => [r.id, r.requestId, r.costUsd]), [['req-old', 'req-old', 0.25], ['new-row', 'req-old', 0.5]]);
    assert.equal(store.total({ since: 0 }).costUsd, 0.75);
  });

  it('reopening the database keeps records and does not re-run migrations', () => {
    store.record(usageRecord({ id: 'keep' }));
    store.close();
    db.close();
    db = openGatewayDb(join(dir, 'gateway.db'));
    store = new UsageStore(db);
    assert.equal(store.total({ since: 0 }).requests, 1);
  });
});
