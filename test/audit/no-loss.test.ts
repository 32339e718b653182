/**
 * The spool loses nothing unseen: long fields are clamped (the controller would refuse them),
 * failed writes are retried, real losses become audit.gap events, interrupted requests become
 * model.interrupted; the shipper quarantines what the controller refuses and ships on; verify
 * catches edits to the filter columns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { openGatewayDb, type GatewayDb } from '../../platform/sqlite.js';
import { AuditSpool, type AuditFacts } from '../../gateway/audit/spool.js';
import { AuditShipper } from '../../gateway/audit/shipper.js';
import { auditEventProblem } from '../../audit/validate.js';
import { sealEvent, type AuditEvent } from '../../audit/event.js';
import { verifyChains } from '../../audit/verify-chain.js';
import { readAuditSource } from '../../gateway/audit/sources.js';
import { readAuditStatus } from '../../gateway/audit/status.js';
import { createControllerServices } from '../../controller/services.js';
import { buildControllerServer } from '../../controller/server.js';

function facts(i: number, over: Partial<AuditFacts> = {}): AuditFacts {
  return {
    ts: new Date(Date.UTC(2026, 10, 20, 9, 0, i)).toISOString(),
    tenantId: 'acme',
    actor: { type: 'user', id: 'ana', role: 'finance' },
    action: 'model.call',
    target: 'openai/gpt-4.1-mini',
    result: 'ok',
    reason: null,
    policyVersion: 'v1',
    redactions: [],
    cost: { tokens: i, usd: 0.001 },
    traceId: `req-${i}`,
    ...over,
  };
}

function withDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-audit-loss-'));
  return fn(dir).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const tick = () => new Promise((r) => setImmediate(r));

/** A write failure the way SQLite reports one (disk full, I/O error): every insert into the spool aborts. */
function breakWrites(db: GatewayDb): () => void {
  db.exec("CREATE TEMP TRIGGER audit_write_fails BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;");
  return () => db.exec('DROP TRIGGER temp.audit_write_fails');
}

test('long fields are clamped to what the controller accepts; the event still verifies', async () => {
  await withDir(async (dir) => {
    const db = openGatewayDb(join(dir, 'gateway.db'));
    const spool = new AuditSpool(db);
    const e = await spool.write(facts(1, { target: `vendor/${'m'.repeat(600)}`, reason: '😀'.repeat(400), actor: { type: 'user', id: 'a'.repeat(300), role: null }, cost: { tokens: Number.NaN, usd: -1 } }));
    assert.equal(auditEventProblem(e), null, 'valid against the controller schema');
    assert.equal(e.target!.length, 512);
    assert.ok(e.target!.endsWith('…'));
    assert.ok(e.target!.startsWith('vendor/mmm'));
    assert.equal(e.actor.id.length, 256);
    assert.ok(e.reason!.length <= 512 && !/[\ud800-\udbff]…$/.test(e.reason!), 'never splits a surrogate pair');
    assert.deepEqual(e.cost, { tokens: 0, usd: 0 });
    assert.equal(verifyChains(spool.events()).ok, true);
    db.close();
  });
});

test('a failed spool write keeps the events and retries; nothing is lost or reordered', async () => {
  await withDir(async (dir) => {
    const db = openGatewayDb(join(dir, 'gateway.db'));
    const errors: number[] = [];
    const spool = new AuditSpool(db, { onFlushError: (_err, queued) => errors.push(queued) });
    const repair = breakWrites(db);
    const written = [1, 2, 3].map((i) => spool.write(facts(i)));
    await tick();
    assert.deepEqual(errors, [3], 'the failure is reported with the number of events kept');
    assert.equal([...spool.events()].length, 0);
    repair();
    const events = await Promise.all(written);
    assert.deepEqual(events.map((e) => [e.seq, e.traceId]), [[1, 'req-1'], [2, 'req-2'], [3, 'req-3']]);
    assert.equal(verifyChains(spool.events()).ok, true);
    assert.equal(readAuditStatus(join(dir, 'gateway.db')).alerts[0]?.kind, 'write-failed');
    db.close();
  });
});

test('a forwarded event that cannot be written is given up at once (the request is refused instead)', async () => {
  await withDir(async (dir) => {
    const db = openGatewayDb(join(dir, 'gateway.db'));
    const spool = new AuditSpool(db, { onFlushError: () => undefined });
    const repair = breakWrites(db);
    const completion = spool.write(facts(1));
    await assert.rejects(spool.write(facts(2, { action: 'model.forwarded' }), { opensRequest: true, dropOnFailure: true }), /cannot be written/);
    repair();
    assert.equal((await completion).traceId, 'req-1', 'the other event was kept and written');
    assert.deepEqual([...spool.events()].map((e) => e.traceId), ['req-1']);
    db.close();
  });
});

test('events really lost leave an audit.gap in the chain, reported by verify and status', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'gateway.db');
    let db = openGatewayDb(path);
    let spool = new AuditSpool(db, { onFlushError: () => undefined });
    await spool.write(facts(1));
    const repair = breakWrites(db);
    // Shutdown while the store cannot be written: the count is noted next to the database...
    const doomed = [2, 3].map((i) => spool.write(facts(i)).catch((err: Error) => err));
    spool.flush();
    for (const d of await Promise.all(doomed)) assert.match(String(d), /lost at shutdown/);
    assert.ok(existsSync(`${path}.audit-lost.json`));
    repair();
    db.close();
    // ...and the next start writes the gap into the chain.
    db = openGatewayDb(path);
    spool = new AuditSpool(db);
    const events = [...spool.events()];
    assert.deepEqual(events.map((e) => e.action), ['model.call', 'audit.gap']);
    assert.match(events[1]!.reason!, /^2 audit event\(s\) lost: shutdown with an unwritable spool/);
    assert.equal(events[1]!.tenantId, 'acme');
    assert.ok(!existsSync(`${path}.audit-lost.json`));
    const report = verifyChains(events);
    assert.equal(report.ok, true, 'a recorded loss is not tampering');
    assert.deepEqual(report.losses.map((l) => [l.kind, l.seq]), [['gap', 2]]);
    assert.equal(readAuditStatus(path).gaps, 1);
    db.close();
  });
});

test('a forwarded request with no completion (gateway killed) becomes model.interrupted at the next start', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'gateway.db');
    let db = openGatewayDb(path);
    let spool = new AuditSpool(db);
    const fwd = await spool.write(facts(1, { action: 'model.forwarded', redactions: [{ class: 'EMAIL', count: 2 }] }), { opensRequest: true });
    const done = await spool.write(facts(2, { action: 'model.forwarded' }), { opensRequest: true });
    await spool.write(facts(3), { completes: done.id });
    assert.equal(readAuditStatus(path).awaiting, 1);
    db.close(); // no completion for the first: as if the process died
    db = openGatewayDb(path);
    spool = new AuditSpool(db);
    const events = [...spool.events()];
    assert.deepEqual(events.map((e) => e.action), ['model.forwarded', 'model.forwarded', 'model.call', 'model.interrupted']);
    const interrupted = events[3]!;
    assert.deepEqual([interrupted.traceId, interrupted.target, interrupted.result], [fwd.traceId, fwd.target, 'error']);
    assert.deepEqual(interrupted.redactions, [{ class: 'EMAIL', count: 2 }]);
    assert.match(interrupted.reason!, /seq 1: the gateway stopped/);
    const status = readAuditStatus(path);
    assert.deepEqual([status.awaiting, status.interrupted], [0, 1]);
    db.close();
    // Recovery happens once.
    db = openGatewayDb(path);
    assert.equal([...new AuditSpool(db).events()].length, 4);
    db.close();
  });
});

test('the shipper quarantines an event the controller refuses, raises an alert and ships the rest', async () => {
  await withDir(async (dir) => {
    mkdirSync(join(dir, 'ctl'));
    const services = await createControllerServices({ dataDir: join(dir, 'ctl') });
    const app = await buildControllerServer({ services, logger: false });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const db = openGatewayDb(join(dir, 'gateway.db'));
    try {
      const spool = new AuditSpool(db);
      await spool.write(facts(1));
      // An event spooled by an older gateway, before clamping: the controller refuses a 600-character target.
      const head = [...spool.events()][0]!;
      const old = sealEvent({ id: 'old-event', chainId: spool.chainId, seq: 2, hashPrev: head.hash, ...facts(2, { target: 'm'.repeat(600) }) });
      db.prepare('INSERT INTO audit_events (seq, id, ts, hash, event) VALUES (?, ?, ?, ?, ?)').run(old.seq, old.id, old.ts, old.hash, JSON.stringify(old));
      for (let i = 3; i <= 5; i++) await spool.write(facts(i));
      const logs: string[] = [];
      const log = pino({ level: 'info' }, { write: (l: string) => logs.push(l) });
      const token = (await services.tokens.mintAccessToken({ subject: 'gateway:t', roles: ['engineering'], authMethod: 'test', claims: { tenant: 'acme' } })).token;
      const shipper = new AuditShipper({ spool, controllerUrl: url, token: () => token, log });
      assert.equal(await shipper.flush(), true);
      assert.equal(spool.pendingCount(), 0, 'nothing stays stuck behind the refused event');
      const status = readAuditStatus(join(dir, 'gateway.db'));
      assert.deepEqual(status.quarantined.map((q) => q.seq), [2]);
      assert.match(status.quarantined[0]!.reason, /target must NOT have more than 512 characters/);
      assert.equal(status.alerts[0]?.kind, 'quarantined');
      assert.ok(logs.some((l) => l.includes('quarantined')), 'logged');
      const stored = await services.store.db.selectFrom('audit_events').select(['seq']).orderBy('seq').execute();
      assert.deepEqual(stored.map((r) => Number(r.seq)), [1, 3, 4, 5]);
      const alerts = await services.store.db.selectFrom('audit_alerts').select(['kind', 'seq']).orderBy('kind').execute();
      assert.deepEqual(alerts.map((a) => [a.kind, Number(a.seq)]), [['gap', 3], ['refused', 2]], 'the controller reports the refusal and the hole it leaves');
      // Later events keep shipping normally.
      await spool.write(facts(6));
      assert.equal(await shipper.flush(), true);
      assert.equal(spool.pendingCount(), 0);
      await shipper.stop();
    } finally {
      db.close();
      await app.close();
      await services.close();
    }
  });
});

test('verify catches an edited actor_id or action column in a controller database', async () => {
  await withDir(async (dir) => {
    const services = await createControllerServices({ dataDir: dir });
    const gwDb = openGatewayDb(join(dir, 'gateway.db'));
    const spool = new AuditSpool(gwDb);
    for (let i = 1; i <= 4; i++) spool.append(facts(i, i === 2 ? { action: 'policy.denied', result: 'denied' } : {}));
    const events = [...spool.events()];
    gwDb.close();
    const { AuditRepository } = await import('../../controller/audit/repository.js');
    await new AuditRepository(services.store.db, services.store.dialect).ingest(events, 'gateway:t');
    await services.close();
    const file = join(dir, 'controller.db');
    assert.deepEqual(readAuditSource(file).columnEdits, []);
    const db = new Database(file);
    // Hide ana's denial from a filtered export (?action=policy.denied&actor=ana) without touching the hashed event.
    db.prepare("UPDATE audit_events SET actor_id = 'nobody', action = 'model.call' WHERE seq = 2").run();
    db.close();
    const source = readAuditSource(file);
    assert.equal(verifyChains(source.events).ok, true, 'the chain alone does not see it');
    assert.deepEqual(source.columnEdits.map((c) => c.message), [
      'column actor_id is "nobody" but the hashed event says "ana"',
      'column action is "model.call" but the hashed event says "policy.denied"',
    ]);
    assert.match(source.columnEdits[0]!.where, /seq 2/);
  });
});

test('an AuditEvent the schema refuses never enters the chain as such', async () => {
  await withDir(async (dir) => {
    const db = openGatewayDb(join(dir, 'gateway.db'));
    const spool = new AuditSpool(db);
    const bad = await spool.write(facts(1, { ts: 'not a time' }));
    assert.equal(bad.action, 'audit.invalid');
    assert.match(bad.reason!, /ts/);
    assert.equal(auditEventProblem(bad), null);
    assert.equal((await spool.write(facts(2))).seq, 2);
    const all: AuditEvent[] = [...spool.events()];
    assert.equal(verifyChains(all).ok, true);
    db.close();
  });
});
