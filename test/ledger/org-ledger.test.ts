/**
 * The controller's org ledger over HTTP (inject), on SQLite and on PostgreSQL (own schema per
 * test): usage arriving with audit batches (idempotent), spend by day in a non-UTC zone,
 * budgets with leases granted only from what is left, entries, and the rules what-if replay.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { startTestController, sampleDirectoryYaml, type TestController } from '../controller/harness.js';
import { TEST_PG_URL, dropSchema } from '../controller/backends.js';
import { importDirectory } from '../../controller/directory/import.js';
import type { UsageRecord } from '../../models/usage-record.js';

function record(over: Partial<UsageRecord>): UsageRecord {
  return {
    id: randomUUID(),
    ts: Date.now(),
    tenantId: 'default',
    userId: 'ana',
    role: 'finance',
    taskKind: 'chat',
    route: 'chat',
    modelRequested: 'anthropic/claude-opus-4',
    modelUsed: 'anthropic/claude-opus-4',
    promptTokens: 1000,
    completionTokens: 100,
    cachedTokens: 0,
    costUsd: 0.01,
    estimated: false,
    latencyMs: 100,
    status: 200,
    cacheHit: false,
    ...over,
  };
}

for (const backend of ['sqlite', 'postgres'] as const) {
  describe(`org ledger (${backend})`, () => {
    let c: TestController;
    let admin: string;
    let schema: string | undefined;
    before(async () => {
      schema = backend === 'postgres' ? `sb_test_${process.pid}_${randomBytes(4).toString('hex')}` : undefined;
      c = await startTestController(schema ? { dbUrl: `${TEST_PG_URL}?schema=${schema}` } : {});
      admin = await c.bearer(['admin']);
      await importDirectory(sampleDirectoryYaml, 'yaml', 'sample.yaml', c.services.directory);
    });
    after(async () => {
      await c.close();
      if (schema) await dropSchema(schema);
    });

    const ingest = async (usage: unknown[], bearer: string) =>
      c.app.inject({ method: 'POST', url: '/api/v1/audit/ingest', headers: { authorization: bearer }, payload: { events: [], usage, gatewayId: 'gw-test' } });

    it('stores usage sent with an audit batch once, with the department from the directory', async () => {
      const gw = await c.bearer(['finance'], 'ana');
      const late = Date.parse('2026-11-30T03:30:00Z'); // Nov 29 in New York, Nov 30 in UTC
      const batch = [record({ ts: late, costUsd: 0.5 }), record({ ts: late + 3_600_000, costUsd: 0.25, userId: 'mia', role: 'marketing' })];
      const first = await ingest(batch, gw);
      assert.equal(first.statusCode, 200, first.body);
      assert.deepEqual(first.json().usage, { accepted: 2, duplicates: 0, refused: [] });
      const again = await ingest(batch, gw);
      assert.deepEqual(again.json().usage, { accepted: 0, duplicates: 2, refused: [] }, 'a re-sent batch never double-counts');
      const bad = await ingest([{ ...record({}), costUsd: -1 }], gw);
      assert.equal(bad.json().usage.refused[0].index, 0);
      const foreign = await ingest([record({ tenantId: 'other' })], gw);
      assert.equal(foreign.statusCode, 403);

      const entries = await c.app.inject({ method: 'GET', url: '/api/v1/ledger/entries?from=2026-11-01T00:00:00Z&to=2026-12-01T00:00:00Z', headers: { authorization: admin } });
      assert.equal(entries.statusCode, 200, entries.body);
      const list = entries.json().entries as Array<UsageRecord & { department?: string; gatewayId?: string }>;
      assert.equal(list.length, 2);
      assert.equal(list.find((e) => e.userId === 'ana')?.department, 'finance-dept');
      assert.equal(list.find((e) => e.userId === 'mia')?.department, 'marketing-dept');
      assert.equal(list[0]!.gatewayId, 'gw-test');
    });

    it('groups spend by day in the tenant time zone, and by department, sorted by cost', async () => {
      const range = 'from=2026-11-28T00:00:00Z&to=2026-12-01T00:00:00Z';
      const utc = (await c.app.inject({ method: 'GET', url: `/api/v1/ledger/spend?${range}&groupBy=day`, headers: { authorization: admin } })).json();
      assert.equal(utc.timeZone, 'UTC');
      assert.deepEqual(utc.rows.map((r: { key: string }) => r.key), ['2026-11-30']);
      const tz = await c.app.inject({ method: 'PUT', url: '/api/v1/ledger/settings', headers: { authorization: admin }, payload: { timeZone: 'America/New_York' } });
      assert.equal(tz.statusCode, 200, tz.body);
      const ny = (await c.app.inject({ method: 'GET', url: `/api/v1/ledger/spend?${range}&groupBy=day`, headers: { authorization: admin } })).json();
      assert.equal(ny.timeZone, 'America/New_York');
      assert.deepEqual(ny.rows.map((r: { key: string; costUsd: number }) => [r.key, r.costUsd]), [['2026-11-29', 0.75]]);
      assert.equal(ny.totals.requests, 2);
      const dept = (await c.app.inject({ method: 'GET', url: `/api/v1/ledger/spend?${range}&groupBy=department`, headers: { authorization: admin } })).json();
      assert.deepEqual(dept.rows.map((r: { key: string }) => r.key), ['finance-dept', 'marketing-dept']);
      const badTz = await c.app.inject({ method: 'PUT', url: '/api/v1/ledger/settings', headers: { authorization: admin }, payload: { timeZone: 'Mars/Olympus' } });
      assert.equal(badTz.statusCode, 400);
      assert.match(badTz.json().message, /unknown time zone/);
      await c.app.inject({ method: 'PUT', url: '/api/v1/ledger/settings', headers: { authorization: admin }, payload: { timeZone: 'UTC' } });
    });

    it('grants leases only from what is left, releases them, and refuses with 402 at the limit', async () => {
      const put = await c.app.inject({ method: 'PUT', url: '/api/v1/ledger/budgets/department/finance-dept/day', headers: { authorization: admin }, payload: { limitUsd: 1 } });
      assert.equal(put.statusCode, 204, put.body);
      const gw = await c.bearer(['finance'], 'lead');
      const lease = (amountUsd: number, minUsd: number) =>
        c.app.inject({ method: 'POST', url: '/api/v1/ledger/leases', headers: { authorization: gw }, payload: { userId: 'lead', role: 'finance', gatewayId: 'gw-1', amountUsd, minUsd, ttlMs: 60_000 } });
      const a = await lease(0.6, 0.01);
      assert.equal(a.statusCode, 200, a.body);
      assert.equal(a.json().amountUsd, 0.6);
      assert.deepEqual(a.json().scopes, ['tenant:default', 'department:finance-dept', 'role:finance', 'user:lead']);
      const b = await lease(0.6, 0.01);
      assert.ok(Math.abs(b.json().amountUsd - 0.4) < 1e-9, 'the second lease gets only what is left');
      const refused = await lease(0.6, 0.01);
      assert.equal(refused.statusCode, 402);
      assert.match(refused.json().message, /day budget for department "finance-dept"/);

      // Spend 0.1 on lease a and release it: 0.5 goes back.
      await ingest([record({ userId: 'lead', costUsd: 0.1, leaseId: a.json().leaseId })], gw);
      const rel = await c.app.inject({ method: 'POST', url: `/api/v1/ledger/leases/${a.json().leaseId}/release`, headers: { authorization: gw }, payload: { spentUsd: 0.1 } });
      assert.equal(rel.statusCode, 204, rel.body);
      const budgets = (await c.app.inject({ method: 'GET', url: '/api/v1/ledger/budgets', headers: { authorization: admin } })).json().budgets;
      const finance = budgets.find((x: { id: string }) => x.id === 'finance-dept');
      assert.ok(Math.abs(finance.spentUsd - 0.1) < 1e-9);
      assert.ok(Math.abs(finance.leasedOutstandingUsd - 0.4) < 1e-9);
      assert.equal(finance.timeZone, 'UTC');
      const c2 = await lease(1, 0.01);
      assert.ok(Math.abs(c2.json().amountUsd - 0.5) < 1e-9, `got ${c2.body}`);

      // Another person may not draw budget for lead; another holder may not release lead's lease.
      const mia = await c.bearer(['marketing'], 'mia');
      const spoof = await c.app.inject({ method: 'POST', url: '/api/v1/ledger/leases', headers: { authorization: mia }, payload: { userId: 'lead', role: 'finance', gatewayId: 'gw-2', amountUsd: 1, minUsd: 0, ttlMs: 60_000 } });
      assert.equal(spoof.statusCode, 403);
      const steal = await c.app.inject({ method: 'POST', url: `/api/v1/ledger/leases/${b.json().leaseId}/release`, headers: { authorization: mia }, payload: { spentUsd: 0 } });
      assert.equal(steal.statusCode, 404);
      // Readers only: a gateway token may not read org spend.
      assert.equal((await c.app.inject({ method: 'GET', url: '/api/v1/ledger/budgets', headers: { authorization: gw } })).statusCode, 403);
      const owner = await c.bearer(['cost-owner'], 'cfo');
      assert.equal((await c.app.inject({ method: 'GET', url: '/api/v1/ledger/budgets', headers: { authorization: owner } })).statusCode, 200);
    });

    it('pages entries by cursor and filters by role', async () => {
      const gw = await c.bearer(['finance'], 'ana');
      const base = Date.parse('2026-10-01T00:00:00Z');
      await ingest(Array.from({ length: 5 }, (_, i) => record({ ts: base + i * 1000 })), gw);
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = (await c.app.inject({ method: 'GET', url: `/api/v1/ledger/entries?from=2026-10-01T00:00:00Z&to=2026-10-02T00:00:00Z&role=finance&limit=2${cursor ? `&cursor=${cursor}` : ''}`, headers: { authorization: admin } })).json();
        seen.push(...page.entries.map((e: UsageRecord) => e.id));
        cursor = page.nextCursor;
      } while (cursor);
      assert.equal(seen.length, 5);
      assert.equal(new Set(seen).size, 5);
      const bad = await c.app.inject({ method: 'GET', url: '/api/v1/ledger/entries?cursor=nonsense', headers: { authorization: admin } });
      assert.equal(bad.statusCode, 400);
    });

    it('replays candidate rules against the ledger, and names the failing path of invalid rules', async () => {
      const rules = { version: 1, rules: [{ id: 'opus-to-sonnet', match: { roles: ['finance'], models: ['anthropic/claude-opus-*'] }, action: { model: 'anthropic/claude-sonnet-4' } }] };
      const res = await c.app.inject({ method: 'POST', url: '/api/v1/rules/simulate', headers: { authorization: admin }, payload: { rules, role: 'finance', from: '2026-10-01T00:00:00Z', to: '2026-10-02T00:00:00Z' } });
      assert.equal(res.statusCode, 200, res.body);
      const r = res.json();
      assert.equal(r.requests, 5);
      assert.equal(r.downshifted, 5);
      assert.ok(r.simulatedCostUsd < r.baselineCostUsd, `sonnet is cheaper than opus: ${r.simulatedCostUsd} vs ${r.baselineCostUsd}`);
      assert.ok(Math.abs(r.savingsUsd - (r.baselineCostUsd - r.simulatedCostUsd)) < 1e-9);
      assert.equal(r.byRule[0].rule, 'opus-to-sonnet');
      const invalid = await c.app.inject({ method: 'POST', url: '/api/v1/rules/simulate', headers: { authorization: admin }, payload: { rules: { version: 1, rules: [{ id: 'x', match: {}, action: { tier: 'economy' } }] } } });
      assert.equal(invalid.statusCode, 400);
      assert.match(invalid.json().message, /rules\[0\]\.action\.tier/);
    });
  });
}
