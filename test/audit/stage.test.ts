import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { FinishHook, RequestContext, RequestOutcome } from '../../gateway/context.js';
import { auditFacts, auditStage, auditStages } from '../../gateway/stages/audit.js';
import { GatewayError } from '../../gateway/errors.js';
import Database from 'better-sqlite3';
import { openGatewayDb } from '../../platform/sqlite.js';
import { AuditSpool } from '../../gateway/audit/spool.js';

function context(over: Partial<RequestContext> = {}): RequestContext & { hooks: FinishHook[] } {
  const hooks: FinishHook[] = [];
  return {
    id: 'req-1',
    route: 'chat',
    format: 'openai',
    method: 'POST',
    receivedAt: 0,
    headers: {},
    body: { model: 'openai/gpt-4.1-mini', messages: [{ role: 'user', content: 'call +1 415 555 0100' }] },
    stream: false,
    requestedModel: 'openai/gpt-4.1-mini',
    notes: {},
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    onFinish: (h: FinishHook) => hooks.push(h),
    hooks,
    ...over,
  } as RequestContext & { hooks: FinishHook[] };
}

const done: RequestOutcome = { status: 200, completed: true, clientAborted: false, totalMs: 5 };
const caller = { tenantId: 'acme', userId: 'ana', role: 'finance' };

test('auditFacts maps each outcome to action, result and a non-sensitive reason', () => {
  const ok = auditFacts(context({ caller, upstream: { name: 'p', attempts: 1, ms: 3, model: 'openai/gpt-4.1-nano' } }), done, 'local');
  assert.deepEqual([ok.action, ok.result, ok.reason, ok.target], ['model.call', 'ok', null, 'openai/gpt-4.1-nano']);

  const ctx = context({ caller });
  ctx.notes.redactions = { PHONE: 1, EMAIL: 0, API_KEY: 2 };
  ctx.notes.usage = { promptTokens: 10, completionTokens: 5, cachedTokens: 0, estimated: false };
  ctx.notes.costUsd = 0.0012;
  const metered = auditFacts(ctx, done, 'local');
  assert.deepEqual(metered.redactions, [{ class: 'API_KEY', count: 2 }, { class: 'PHONE', count: 1 }]);
  assert.deepEqual(metered.cost, { tokens: 15, usd: 0.0012 });
  assert.ok(!JSON.stringify(metered).includes('415 555'), 'no request text');

  const denied = context({ caller });
  denied.notes.denied = { stage: 'privacyGuard', reason: 'IBAN in messages[0].content' };
  assert.deepEqual(
    [auditFacts(denied, { ...done, status: 400 }, 'local').action, auditFacts(denied, { ...done, status: 400 }, 'local').reason],
    ['policy.denied', 'privacyGuard: IBAN in messages[0].content'],
  );

  const anon = auditFacts(context(), { ...done, status: 401 }, 'local');
  assert.deepEqual([anon.action, anon.result, anon.tenantId, anon.actor.type], ['auth.denied', 'denied', 'local', 'anonymous']);

  assert.equal(auditFacts(context({ caller }), { ...done, completed: false, clientAborted: true }, 'local').result, 'aborted');
  const cut = auditFacts(context({ caller }), { ...done, completed: false, error: 'upstream reset' }, 'local');
  assert.deepEqual([cut.result, cut.reason], ['error', 'HTTP 200, incomplete']);
  assert.equal(auditFacts(context({ caller }), { ...done, status: 503 }, 'local').result, 'error');
});

test('audit stage appends one chained event per model call after the response, none for model listing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-audit-stage-'));
  const db = openGatewayDb(join(dir, 'gateway.db'));
  try {
    const spool = new AuditSpool(db);
    let notified = 0;
    const stage = auditStage({ spool, defaultTenantId: 'local', onAppend: () => notified++ });
    const ctx = context({ caller });
    await stage.run(ctx);
    assert.equal(spool.pendingCount(), 0, 'nothing is written before the response is delivered');
    for (const hook of ctx.hooks) await hook(done);
    // Events finishing in the same tick share one transaction, written at the end of the tick.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(spool.pendingCount(), 1);
    assert.equal(notified, 1);
    const list = context({ caller, route: 'models' });
    await stage.run(list);
    assert.equal(list.hooks.length, 0);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('events queued in one tick are written in one transaction and stay one unbroken chain', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-audit-batch-'));
  const db = openGatewayDb(join(dir, 'gateway.db'));
  try {
    const spool = new AuditSpool(db);
    spool.append(auditFacts(context({ caller }), done, 'local'));
    let written = 0;
    for (let i = 0; i < 50; i++) spool.enqueue(auditFacts(context({ caller }), done, 'local'), () => written++);
    assert.equal(spool.pendingCount(), 1, 'queued events wait for the end of the tick');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(written, 50);
    const events = [...spool.events()];
    assert.equal(events.length, 51);
    events.forEach((e, i) => {
      assert.equal(e.seq, i + 1);
      if (i > 0) assert.equal(e.hashPrev, events[i - 1]!.hash);
    });
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('auditForwarded commits its event before the request goes on, and refuses the request when the spool cannot be written', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-audit-fwd-'));
  const db = openGatewayDb(join(dir, 'gateway.db'));
  try {
    const spool = new AuditSpool(db, { onFlushError: () => undefined });
    const { forwarded, completed } = auditStages({ spool, defaultTenantId: 'local' });
    assert.equal(forwarded.phase, 'request');
    const ctx = context({ caller });
    ctx.notes.redactions = { PHONE: 1 };
    ctx.body = { ...ctx.body, model: 'openai/gpt-4.1-nano' }; // downshifted before forward
    await forwarded.run(ctx);
    // Committed when run() resolves: another connection sees it.
    const other = new Database(join(dir, 'gateway.db'), { readonly: true });
    const rows = other.prepare('SELECT event, awaiting FROM audit_events').all() as Array<{ event: string; awaiting: number }>;
    other.close();
    assert.equal(rows.length, 1);
    const fwd = JSON.parse(rows[0]!.event) as { action: string; target: string; redactions: unknown; cost: unknown };
    assert.deepEqual([fwd.action, fwd.target, fwd.redactions, fwd.cost, rows[0]!.awaiting], ['model.forwarded', 'openai/gpt-4.1-nano', [{ class: 'PHONE', count: 1 }], { tokens: 0, usd: 0 }, 1]);
    // The phone number, not a bare '415': the event's hashes and ids are random hex and may hold those digits.
    assert.ok(!rows[0]!.event.includes('415 555') && !rows[0]!.event.includes('call +1'), 'no request text');
    await completed.run(ctx);
    for (const hook of ctx.hooks) await hook(done);
    await new Promise((resolve) => setImmediate(resolve));
    const events = [...spool.events()];
    assert.deepEqual(events.map((e) => e.action), ['model.forwarded', 'model.call']);
    assert.equal((db.prepare('SELECT count(*) AS n FROM audit_events WHERE awaiting = 1').get() as { n: number }).n, 0, 'the completion closed it');

    db.exec("CREATE TEMP TRIGGER broken BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END;");
    await assert.rejects(async () => forwarded.run(context({ caller })), (err: GatewayError) => err.status === 503 && err.code === 'audit_unavailable');
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
