import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { backends } from '../controller/backends.js';
import { AuditRepository, ForeignChainError } from '../../controller/audit/repository.js';
import { openGatewayDb } from '../../platform/sqlite.js';
import { AuditSpool, type AuditFacts } from '../../gateway/audit/spool.js';
import { computeEventHash, type AuditEvent } from '../../audit/event.js';
import { verifyChains } from '../../audit/verify-chain.js';

function facts(i: number, over: Partial<AuditFacts> = {}): AuditFacts {
  return {
    ts: new Date(Date.UTC(2026, 10, 1, 0, 0, i)).toISOString(),
    tenantId: 'acme',
    actor: { type: 'user', id: i % 2 ? 'alice' : 'bob', role: 'finance' },
    action: i % 3 ? 'model.call' : 'policy.denied',
    target: 'openai/gpt-4.1-mini',
    result: i % 3 ? 'ok' : 'denied',
    reason: null,
    policyVersion: 'abc',
    redactions: [],
    cost: { tokens: i, usd: 0 },
    traceId: `t${i}`,
    ...over,
  };
}

/** A gateway chain of n events, made by the real spool. */
function gatewayChain(n: number, over: Partial<AuditFacts> = {}): AuditEvent[] {
  const dir = mkdtempSync(join(tmpdir(), 'sb-audit-'));
  const db = openGatewayDb(join(dir, 'gateway.db'));
  try {
    const spool = new AuditSpool(db);
    for (let i = 1; i <= n; i++) spool.append(facts(i, over));
    return [...spool.events()];
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const backend of backends) {
  test(`audit store (${backend.name}): ingest is idempotent, continuity is checked, queries filter and page`, async () => {
    const { handle, dispose } = await backend.open();
    try {
      const repo = new AuditRepository(handle.db, handle.dialect);
      const chain = gatewayChain(10);
      const first = await repo.ingest(chain.slice(0, 6), 'gateway:a');
      assert.deepEqual([first.accepted, first.duplicates, first.alerts.length], [6, 0, 0]);
      // Re-sent batch (lost reply) plus the rest: duplicates are skipped, not stored twice.
      const second = await repo.ingest(chain.slice(3), 'gateway:a');
      assert.deepEqual([second.accepted, second.duplicates, second.alerts.length], [4, 3, 0]);
      assert.deepEqual(await repo.chainHead(chain[0]!.chainId), { seq: 10, hash: chain[9]!.hash });
      await assert.rejects(repo.ingest(chain.slice(9), 'gateway:b'), ForeignChainError, 'another identity cannot extend the chain');

      const page1 = await repo.query({ tenantId: 'acme', limit: 4 });
      assert.equal(page1.events.length, 4);
      assert.ok(page1.nextCursor);
      const rest = await repo.query({ tenantId: 'acme', limit: 100, cursor: page1.nextCursor! });
      assert.equal(rest.events.length, 6);
      assert.equal(rest.nextCursor, null);
      assert.deepEqual([...page1.events, ...rest.events].map((e) => e.seq), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.deepEqual(rest.events[0], chain[4], 'stored events come back exactly as sent');

      assert.equal((await repo.query({ actorId: 'alice', limit: 100 })).events.length, 5);
      assert.equal((await repo.query({ action: 'policy.denied', limit: 100 })).events.length, 3);
      const from = Date.parse(chain[2]!.ts);
      const to = Date.parse(chain[5]!.ts);
      assert.deepEqual((await repo.query({ from, to, limit: 100 })).events.map((e) => e.seq), [3, 4, 5]);
      assert.equal((await repo.query({ tenantId: 'other', limit: 100 })).events.length, 0);

      const exported: AuditEvent[] = [];
      for await (const e of repo.exportEvents({}, 3)) exported.push(e);
      assert.equal(verifyChains(exported).ok, true);
      assert.equal(exported.length, 10);

      // Retention: events older than the cutoff go, the chain head stays for continuity.
      assert.equal(await repo.deleteOlderThan(Date.parse(chain[5]!.ts)), 5);
      assert.equal((await repo.query({ limit: 100 })).events.length, 5);
      assert.deepEqual(await repo.chainHead(chain[0]!.chainId), { seq: 10, hash: chain[9]!.hash });
    } finally {
      await dispose();
    }
  });

  test(`audit store (${backend.name}): gaps, forks, broken links and tampered events raise alerts`, async () => {
    const { handle, dispose } = await backend.open();
    try {
      const repo = new AuditRepository(handle.db, handle.dialect);
      const chain = gatewayChain(6);
      await repo.ingest(chain.slice(0, 2), 'gateway:a');

      const gap = await repo.ingest([chain[3]!], 'gateway:a');
      assert.deepEqual(gap.alerts.map((a) => [a.kind, a.seq]), [['gap', 4]]);
      assert.equal(gap.accepted, 1, 'a gapped event is stored, flagged');
      // The missing event arrives late and links correctly: no new alert.
      const late = await repo.ingest([chain[2]!], 'gateway:a');
      assert.deepEqual([late.accepted, late.alerts.length], [1, 0]);

      const fork = { ...chain[4]!, id: 'forked-event', traceId: 'other' };
      fork.hash = computeEventHash(fork);
      await repo.ingest([chain[4]!], 'gateway:a');
      const forked = await repo.ingest([fork], 'gateway:a');
      assert.deepEqual([forked.rejected, forked.alerts.map((a) => a.kind)], [1, ['fork']]);

      const tampered = { ...chain[5]!, cost: { tokens: 0, usd: 0 } };
      const t = await repo.ingest([tampered], 'gateway:a');
      assert.deepEqual([t.rejected, t.alerts.map((a) => a.kind)], [1, ['tampered']]);

      const relinked = { ...chain[5]!, hashPrev: 'a'.repeat(64) };
      relinked.hash = computeEventHash(relinked);
      const b = await repo.ingest([relinked], 'gateway:a');
      assert.deepEqual([b.accepted, b.alerts.map((a) => a.kind)], [1, ['broken-link']]);

      const alerts = await repo.alerts(chain[0]!.chainId);
      assert.deepEqual(alerts.map((a) => a.kind).sort(), ['broken-link', 'fork', 'gap', 'tampered']);
    } finally {
      await dispose();
    }
  });
}

for (const backend of backends) {
  test(`audit store (${backend.name}): Idempotency-Key answers passed with a batch are stored only with it`, async () => {
    const { handle, dispose } = await backend.open();
    try {
      const repo = new AuditRepository(handle.db, handle.dialect);
      const claim = (key: string) => handle.db.insertInto('mesh_idempotency').values({ subject: 'mia', key, fingerprint: 'f', status: null, body: null, created_at: Date.now() }).execute();
      const answerOf = async (key: string) => handle.db.selectFrom('mesh_idempotency').select(['status', 'body']).where('subject', '=', 'mia').where('key', '=', key).executeTakeFirstOrThrow();
      await claim('k1');
      await claim('k2');
      await claim('k3');
      const chain = gatewayChain(4);
      await repo.appendOwnChain(chain.slice(0, 2), 'controller:mesh', Date.now(), [
        { subject: 'mia', key: 'k1', status: 202, body: '{"taskId":"task-1","note":"it\'s \\ \\"quoted\\""}' },
        { subject: 'mia', key: 'k2', status: 200, body: '{"state":"completed"}' },
      ]);
      assert.deepEqual(await answerOf('k1'), { status: 202, body: '{"taskId":"task-1","note":"it\'s \\ \\"quoted\\""}' });
      assert.deepEqual(await answerOf('k2'), { status: 200, body: '{"state":"completed"}' });
      // A batch that does not continue the head stores neither its events nor its answers.
      await assert.rejects(repo.appendOwnChain(chain.slice(3), 'controller:mesh', Date.now(), [{ subject: 'mia', key: 'k3', status: 202, body: '{}' }]), /stored head is seq 2/);
      assert.deepEqual(await answerOf('k3'), { status: null, body: null });
      await repo.appendOwnChain(chain.slice(2), 'controller:mesh', Date.now(), [{ subject: 'mia', key: 'k3', status: 202, body: '{}' }]);
      assert.deepEqual(await answerOf('k3'), { status: 202, body: '{}' });
      assert.deepEqual((await repo.query({ limit: 100 })).events, chain);
    } finally {
      await dispose();
    }
  });

  test(`audit store (${backend.name}): a process's own chain is appended in batches that must continue the stored head`, async () => {
    const { handle, dispose } = await backend.open();
    try {
      const repo = new AuditRepository(handle.db, handle.dialect);
      const chain = gatewayChain(6);
      await repo.appendOwnChain(chain.slice(0, 1), 'controller:mesh');
      await repo.appendOwnChain(chain.slice(1, 4), 'controller:mesh');
      assert.deepEqual(await repo.chainHead(chain[0]!.chainId), { seq: 4, hash: chain[3]!.hash });
      // A batch that skips an event, repeats one, or comes from another writer is refused whole.
      await assert.rejects(repo.appendOwnChain(chain.slice(5), 'controller:mesh'), /starts at seq 6 but the stored head is seq 4/);
      await assert.rejects(repo.appendOwnChain(chain.slice(3, 5), 'controller:mesh'), /starts at seq 4 but the stored head is seq 4/);
      await assert.rejects(repo.appendOwnChain(chain.slice(4), 'controller:other'), ForeignChainError);
      assert.deepEqual(await repo.chainHead(chain[0]!.chainId), { seq: 4, hash: chain[3]!.hash });
      await repo.appendOwnChain(chain.slice(4), 'controller:mesh');
      const stored = (await repo.query({ limit: 100 })).events;
      assert.deepEqual(stored, chain, 'stored exactly as sealed, nothing of a refused batch');
      assert.equal(verifyChains(stored).ok, true);
    } finally {
      await dispose();
    }
  });
}
