import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGatewayDb } from '../../platform/sqlite.js';
import { AuditSpool, type AuditFacts } from '../../gateway/audit/spool.js';
import { GENESIS_HASH, canonicalEventJson, computeEventHash, type AuditEvent } from '../../audit/event.js';
import { verifyChains } from '../../audit/verify-chain.js';

function facts(i: number): AuditFacts {
  return {
    ts: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    tenantId: 'acme',
    actor: { type: 'user', id: 'alice', role: 'finance' },
    action: 'model.call',
    target: 'openai/gpt-4o-mini',
    result: 'ok',
    reason: null,
    policyVersion: 'v1',
    redactions: i % 2 ? [{ class: 'EMAIL', count: 1 }] : [],
    cost: { tokens: 100 + i, usd: 0.0001 * i },
    traceId: `req-${i}`,
  };
}

function withSpool(fn: (spool: AuditSpool) => void) {
  const dir = mkdtempSync(join(tmpdir(), 'sb-audit-'));
  const db = openGatewayDb(join(dir, 'gateway.db'));
  try {
    fn(new AuditSpool(db));
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function chainOf(n: number): AuditEvent[] {
  let out: AuditEvent[] = [];
  withSpool((spool) => {
    for (let i = 1; i <= n; i++) spool.append(facts(i));
    out = [...spool.events()];
  });
  return out;
}

test('canonical JSON sorts keys and omits the hash field', () => {
  const [e] = chainOf(1);
  const text = canonicalEventJson(e!);
  assert.ok(!text.includes('"hash":'));
  assert.ok(text.startsWith('{"action":"model.call","actor":{"id":"alice","role":"finance","type":"user"}'));
  // Field order in the object does not change the hash.
  const shuffled = Object.fromEntries(Object.entries(e!).reverse()) as unknown as AuditEvent;
  assert.equal(computeEventHash(shuffled), e!.hash);
});

test('spool builds one unbroken chain starting at genesis', () => {
  const events = chainOf(5);
  assert.equal(events.length, 5);
  assert.equal(events[0]!.hashPrev, GENESIS_HASH);
  assert.deepEqual(events.map((e) => e.seq), [1, 2, 3, 4, 5]);
  for (let i = 1; i < events.length; i++) assert.equal(events[i]!.hashPrev, events[i - 1]!.hash);
  const report = verifyChains(events);
  assert.equal(report.ok, true, JSON.stringify(report.problems));
  assert.equal(report.chains[0]!.lastSeq, 5);
  assert.equal(report.chains[0]!.headHash, events[4]!.hash);
});

test('verify detects an edited event', () => {
  const events = chainOf(5);
  events[2] = { ...events[2]!, cost: { tokens: 1, usd: 0 } };
  const report = verifyChains(events);
  assert.equal(report.ok, false);
  assert.deepEqual(report.problems.map((p) => [p.kind, p.seq]), [['edited', 3]]);
});

test('verify detects an edited event whose hash was recomputed (next link breaks)', () => {
  const events = chainOf(5);
  const forged = { ...events[2]!, actor: { type: 'user' as const, id: 'mallory', role: 'admin' } };
  forged.hash = computeEventHash(forged);
  events[2] = forged;
  const report = verifyChains(events);
  assert.deepEqual(report.problems.map((p) => [p.kind, p.seq]), [['edited', 4]]);
});

test('verify detects a removed event', () => {
  const events = chainOf(5);
  events.splice(1, 1);
  const report = verifyChains(events);
  assert.deepEqual(report.problems.map((p) => [p.kind, p.seq]), [['removed', 2]]);
});

test('verify detects reordered events', () => {
  const events = chainOf(5);
  [events[1], events[3]] = [events[3]!, events[1]!];
  const report = verifyChains(events);
  assert.equal(report.ok, false);
  assert.ok(report.problems.every((p) => p.kind === 'reordered'));
  assert.ok(report.problems.length >= 1);
});

test('verify detects a fork and a duplicate', () => {
  const events = chainOf(3);
  const fork = { ...events[1]!, id: 'other', traceId: 'req-x' };
  fork.hash = computeEventHash(fork);
  const report = verifyChains([events[0]!, events[1]!, fork, events[2]!]);
  assert.ok(report.problems.some((p) => p.kind === 'forked' && p.seq === 2));
  const dup = verifyChains([events[0]!, events[1]!, events[1]!, events[2]!]);
  assert.deepEqual(dup.problems.map((p) => p.kind), ['duplicate']);
});

test('a chain may start after pruning, but seq 1 must start at genesis', () => {
  const events = chainOf(4);
  assert.equal(verifyChains(events.slice(2)).ok, true);
  const bad = { ...events[0]!, hashPrev: 'f'.repeat(64) };
  bad.hash = computeEventHash(bad);
  assert.ok(verifyChains([bad]).problems.some((p) => p.kind === 'bad-genesis'));
});

test('spool keeps pending events until marked shipped and prunes only shipped old ones', () => {
  withSpool((spool) => {
    for (let i = 1; i <= 5; i++) spool.append(facts(i));
    assert.equal(spool.pendingCount(), 5);
    assert.deepEqual(spool.pending(2).map((e) => e.seq), [1, 2]);
    spool.markShipped(3);
    assert.deepEqual(spool.pending(10).map((e) => e.seq), [4, 5]);
    assert.equal(spool.prune(new Date('2100-01-01')), 3);
    spool.markShipped(5);
    // The newest event anchors the chain and is never pruned.
    assert.equal(spool.prune(new Date('2100-01-01')), 1);
    assert.deepEqual([...spool.events()].map((e) => e.seq), [5]);
    const next = spool.append(facts(6));
    assert.equal(next.seq, 6);
    assert.equal(verifyChains(spool.events()).ok, true);
  });
});

test('chain id persists across reopen', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-audit-'));
  try {
    const file = join(dir, 'gateway.db');
    let db = openGatewayDb(file);
    const first = new AuditSpool(db);
    first.append(facts(1));
    db.close();
    db = openGatewayDb(file);
    const second = new AuditSpool(db);
    assert.equal(second.chainId, first.chainId);
    assert.equal(second.append(facts(2)).seq, 2);
    assert.equal(verifyChains(second.events()).ok, true);
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
