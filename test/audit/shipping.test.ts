import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chat, eventually, startLinkedSetup } from '../bundles/linked-setup.js';
import { verifyChains } from '../../audit/verify-chain.js';
import type { AuditEvent } from '../../audit/event.js';
import { readAuditSource } from '../../gateway/audit/sources.js';
import { buildProgram } from '../../bin/program.js';
import { join } from 'node:path';

async function controllerEvents(s: Awaited<ReturnType<typeof startLinkedSetup>>): Promise<AuditEvent[]> {
  const res = await s.controller()!.app.inject({ url: '/api/v1/audit/events?limit=1000', headers: { authorization: await s.bearer(['auditor']) } });
  assert.equal(res.statusCode, 200, res.body);
  return (res.json() as { events: AuditEvent[] }).events;
}

test('audit events reach the controller exactly once, also across a controller outage', async () => {
  const s = await startLinkedSetup({ pollIntervalMs: 60_000 });
  try {
    await s.startGateway();
    const link = s.gateway()!.services.controllerLink;
    const secret = 'ana.lopez@acmecorp.io';
    assert.equal((await chat(s.gatewayUrl(), s.gatewayToken(), 'openai/gpt-4.1-mini', `Mail ${secret} the report`)).status, 200);
    assert.equal((await chat(s.gatewayUrl(), s.gatewayToken(), 'openai/gpt-4o-mini')).status, 400);
    await eventually(() => link.spool.pendingCount() === 0, 'first events shipped');
    let stored = await controllerEvents(s);
    // A forwarded call leaves two events: model.forwarded (committed before the upstream saw a
    // byte) and its completion; a refused one never went upstream.
    assert.deepEqual(stored.map((e) => [e.action, e.result]), [['model.forwarded', 'ok'], ['model.call', 'ok'], ['policy.denied', 'denied']]);
    const forwarded = stored[0]!;
    assert.deepEqual([forwarded.target, forwarded.redactions, forwarded.cost], ['openai/gpt-4.1-mini', [{ class: 'EMAIL', count: 1 }], { tokens: 0, usd: 0 }]);
    assert.equal(forwarded.traceId, stored[1]!.traceId);
    const call = stored[1]!;
    assert.equal(call.tenantId, 'acme');
    assert.deepEqual(call.actor, { type: 'user', id: 'ana', role: 'finance' });
    assert.equal(call.target, 'openai/gpt-4.1-mini');
    assert.equal(call.policyVersion, link.bundles!.current()!.version);
    assert.deepEqual(call.redactions, [{ class: 'EMAIL', count: 1 }]);
    assert.ok(call.cost.tokens > 0, 'tokens metered');
    assert.ok(!JSON.stringify(stored).includes(secret), 'no detected value in the audit trail');
    assert.ok(!JSON.stringify(stored).includes('the report'), 'no prompt text in the audit trail');
    assert.match(stored[2]!.reason ?? '', /not allowed/);

    // Controller down: events are spooled, nothing is lost.
    await s.stopController();
    for (let i = 0; i < 5; i++) assert.equal((await chat(s.gatewayUrl(), s.gatewayToken(), 'openai/gpt-4.1-mini')).status, 200);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(link.spool.pendingCount(), 10);
    assert.ok(s.logs.some((l) => l.includes('controller unreachable, events stay spooled')));

    // Controller back (same data dir, same port): the backlog drains, each event exactly once.
    await s.startController();
    await eventually(() => link.spool.pendingCount() === 0, 'backlog shipped after restart');
    stored = await controllerEvents(s);
    assert.equal(stored.length, 13);
    assert.equal(new Set(stored.map((e) => e.id)).size, 13, 'no duplicates');
    assert.deepEqual(stored.map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    assert.equal(verifyChains(stored).ok, true);
    const alerts = await s.controller()!.app.inject({ url: '/api/v1/audit/alerts', headers: { authorization: await s.bearer(['admin']) } });
    assert.deepEqual((alerts.json() as { alerts: unknown[] }).alerts, []);

    // A batch re-sent after a lost reply is acknowledged as duplicates, not stored twice.
    const resend = async (subject: string) =>
      s.controller()!.app.inject({
        method: 'POST',
        url: '/api/v1/audit/ingest',
        headers: { authorization: await s.bearer(['finance'], subject) },
        payload: { events: stored.slice(0, 3) },
      });
    assert.deepEqual((await resend('gateway:test')).json(), { accepted: 0, duplicates: 3, rejected: 0, alerts: 0, refused: [] });
    // Another identity cannot write into this gateway's chain.
    const foreign = await resend('someone-else');
    assert.equal(foreign.statusCode, 403);
    assert.match(foreign.json().message, /only extend its own chain/);

    // `switchboard audit export --controller` writes a file that `audit verify` accepts.
    const out = join(s.gatewayDataDir, 'export.csv');
    process.env.SB_TEST_AUDITOR_TOKEN = (await s.bearer(['auditor'])).slice('Bearer '.length);
    try {
      await buildProgram().exitOverride().parseAsync(['node', 'switchboard', 'audit', 'export', '--controller', s.controllerUrl, '--token-env', 'SB_TEST_AUDITOR_TOKEN', '--format', 'csv', '--out', out, '--data-dir', s.gatewayDataDir]);
    } finally {
      delete process.env.SB_TEST_AUDITOR_TOKEN;
    }
    const exported = readAuditSource(out);
    assert.equal(exported.kind, 'csv');
    assert.equal(exported.events.length, 13);
    assert.equal(verifyChains(exported.events).ok, true);
  } finally {
    await s.close();
  }
});
