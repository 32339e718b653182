import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createControllerServices } from '../../controller/services.js';
import { buildControllerServer } from '../../controller/server.js';
import { openGatewayDb } from '../../platform/sqlite.js';
import { AuditSpool } from '../../gateway/audit/spool.js';
import { parseExport } from '../../audit/export-format.js';
import { verifyChains } from '../../audit/verify-chain.js';
import type { AuditEvent } from '../../audit/event.js';

function chain(dir: string, n: number, daysAgo = 0): AuditEvent[] {
  const db = openGatewayDb(join(dir, `gw-${daysAgo}.db`));
  const spool = new AuditSpool(db);
  const base = Date.now() - daysAgo * 86_400_000;
  for (let i = 1; i <= n; i++) {
    spool.append({
      ts: new Date(base + i * 1000).toISOString(),
      tenantId: 'acme',
      actor: { type: 'user', id: i % 2 ? 'ana' : 'bob', role: 'finance' },
      action: i === 2 ? 'policy.denied' : 'model.call',
      target: 'openai/gpt-4.1-mini',
      result: i === 2 ? 'denied' : 'ok',
      reason: null,
      policyVersion: 'v1',
      redactions: [],
      cost: { tokens: i, usd: 0.001 },
      traceId: `r${i}`,
    });
  }
  const events = [...spool.events()];
  db.close();
  return events;
}

async function start(dataDir: string, retentionDays?: number) {
  const services = await createControllerServices({ dataDir });
  if (retentionDays !== undefined) services.audit = { retentionDays };
  const app = await buildControllerServer({ services, logger: false });
  await app.ready();
  const bearer = async (roles: string[], tenant?: string) =>
    `Bearer ${(await services.tokens.mintAccessToken({ subject: 'x', roles, authMethod: 'test', ...(tenant ? { claims: { tenant } } : {}) })).token}`;
  return { app, services, bearer, close: async () => { await app.close(); await services.close(); } };
}

test('audit routes: validated ingest, filtered queries with cursors, verifiable exports, retention', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-ctl-'));
  let ctl = await start(dataDir);
  try {
    const old = chain(dataDir, 3, 30);
    const events = chain(dataDir, 5);
    const gateway = await ctl.bearer(['finance'], 'acme');
    const ingest = (payload: unknown, auth = gateway) => ctl.app.inject({ method: 'POST', url: '/api/v1/audit/ingest', headers: { authorization: auth }, payload: payload as object });

    assert.deepEqual((await ingest({ events: old })).json(), { accepted: 3, duplicates: 0, rejected: 0, alerts: 0, refused: [] });
    // Each event is checked on its own: the valid ones of a batch are stored, each refused one is named.
    const mixed = await ingest({ events: [events[0], { ...events[1]!, hash: undefined }, events[2], { ...events[3]!, prompt: 'leak' }, { ...events[4]!, target: 'x'.repeat(600) }] });
    assert.equal(mixed.statusCode, 200, mixed.body);
    const reply = mixed.json() as { accepted: number; refused: Array<{ index: number; id: string; seq: number; reason: string }> };
    assert.equal(reply.accepted, 2);
    assert.deepEqual(reply.refused.map((r) => [r.index, r.id, r.seq]), [[1, events[1]!.id, 2], [3, events[3]!.id, 4], [4, events[4]!.id, 5]]);
    assert.match(reply.refused[0]!.reason, /hash/);
    assert.match(reply.refused[1]!.reason, /additional properties/);
    assert.match(reply.refused[2]!.reason, /target must NOT have more than 512 characters/);
    assert.ok(!JSON.stringify(reply).includes('leak'), 'a refusal names the field, never echoes values');
    // The refusals are alerts on the controller; the rest of the chain still arrives.
    const refusedAlerts = (await ctl.app.inject({ url: '/api/v1/audit/alerts', headers: { authorization: await ctl.bearer(['admin']) } })).json() as { alerts: Array<{ kind: string; seq: number }> };
    assert.deepEqual(refusedAlerts.alerts.filter((a) => a.kind === 'refused').map((a) => a.seq).sort(), [2, 4, 5]);
    assert.deepEqual((await ingest({ events })).json(), { accepted: 3, duplicates: 2, rejected: 0, alerts: 0, refused: [] });
    assert.equal((await ingest({ events: [] })).statusCode, 400);
    assert.equal((await ingest({ events: ['not an event'] })).statusCode, 400, 'the batch shape itself is still checked');
    const foreign = await ingest({ events: [{ ...events[0]!, tenantId: 'globex' }] });
    assert.equal(foreign.statusCode, 403);
    assert.equal((await ctl.app.inject({ method: 'POST', url: '/api/v1/audit/ingest', payload: { events } })).statusCode, 401);

    const auditor = await ctl.bearer(['auditor']);
    const get = (qs: string, auth = auditor) => ctl.app.inject({ url: `/api/v1/audit/events${qs}`, headers: { authorization: auth } });
    assert.equal((await get('', gateway)).statusCode, 403, 'a gateway token cannot read the trail');
    const page = await get('?limit=5');
    assert.equal(page.statusCode, 200);
    const { events: first, nextCursor } = page.json() as { events: AuditEvent[]; nextCursor: string };
    assert.equal(first.length, 5);
    const second = (await get(`?limit=5&cursor=${encodeURIComponent(nextCursor)}`)).json() as { events: AuditEvent[]; nextCursor: string | null };
    assert.equal(second.events.length, 3);
    assert.equal(second.nextCursor, null);
    assert.equal(((await get('?action=policy.denied')).json() as { events: unknown[] }).events.length, 2);
    assert.equal(((await get('?actor=bob&tenant=acme')).json() as { events: unknown[] }).events.length, 3);
    const since = new Date(Date.now() - 86_400_000).toISOString();
    assert.equal(((await get(`?from=${since}`)).json() as { events: unknown[] }).events.length, 5);
    assert.equal((await get('?cursor=garbage')).statusCode, 400);
    assert.equal((await get('?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z')).statusCode, 400);
    assert.equal((await get('?from=last-tuesday')).statusCode, 400);
    assert.equal((await get('?limit=0')).statusCode, 400);

    for (const format of ['ndjson', 'csv']) {
      const res = await ctl.app.inject({ url: `/api/v1/audit/export?format=${format}`, headers: { authorization: auditor } });
      assert.equal(res.statusCode, 200);
      assert.match(res.headers['content-type'] as string, format === 'csv' ? /text\/csv/ : /ndjson/);
      const parsed = parseExport(res.body);
      assert.deepEqual([parsed.format, parsed.events.length, parsed.problems.length], [format, 8, 0]);
      assert.equal(verifyChains(parsed.events).ok, true, `${format} export verifies`);
    }
    assert.equal((await ctl.app.inject({ url: '/api/v1/audit/export?format=xml', headers: { authorization: auditor } })).statusCode, 400);

    // Retention: a controller started with retentionDays=7 drops the 30-day-old events at start.
    await ctl.close();
    ctl = await start(dataDir, 7);
    const kept = (await ctl.app.inject({ url: '/api/v1/audit/events', headers: { authorization: await ctl.bearer(['admin']) } })).json() as { events: AuditEvent[] };
    assert.equal(kept.events.length, 5);
    assert.ok(kept.events.every((e) => !old.some((o) => o.id === e.id)));
  } finally {
    await ctl.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
