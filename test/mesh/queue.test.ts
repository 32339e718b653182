/** The delivery queue: the same tests on the SQLite lease table and on PostgreSQL SKIP LOCKED. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from '../controller/backends.js';
import { createTaskQueue, type TaskQueue } from '../../controller/tasks/queue.js';
import type { ControllerDb } from '../../controller/storage/database.js';

for (const backend of backends) {
  describe(`task queue on ${backend.name}`, () => {
    let opened: Awaited<ReturnType<typeof backend.open>>;
    let db: ControllerDb;
    let q: TaskQueue;
    before(async () => {
      opened = await backend.open();
      db = opened.handle;
      q = createTaskQueue(db.db, db.dialect, { leaseMs: 1000, maxAttempts: 3 });
    });
    after(() => opened.dispose());

    const item = (id: string, agentId = 'a1') => ({ id, kind: 'task', agentId, taskId: `t-${id}`, approvalId: null, payload: '{}' });

    it('uses the implementation of its database', () => {
      assert.equal(q.implementation, backend.name === 'postgres' ? 'postgres-skip-locked' : 'sqlite-lease-table');
    });

    it('leases oldest first, hides leased items, and hands them back when the lease runs out', async () => {
      const t0 = 1_000_000;
      await q.enqueue([item('d1'), item('d2')], undefined, t0);
      await q.enqueue([item('d3')], undefined, t0 + 1);
      const first = await q.claim('a1', 2, t0 + 10);
      assert.deepEqual(first.map((r) => r.id), ['d1', 'd2']);
      assert.ok(first.every((r) => r.attempts === 1 && r.state === 'leased'));
      const next = await q.claim('a1', 5, t0 + 20);
      assert.deepEqual(next.map((r) => r.id), ['d3']);
      assert.deepEqual(await q.claim('a1', 5, t0 + 30), [], 'nothing while leases are live');
      assert.deepEqual(await q.claim('other', 5, t0 + 30), [], 'another agent gets nothing');

      // d1's worker crashed: after the lease it comes back with attempt 2 and a new lease.
      assert.equal(await q.settle('d2', first[1]!.lease_id!, { resultState: 'completed', result: '{}' }, t0 + 40), true);
      assert.equal(await q.settle('d3', next[0]!.lease_id!, { resultState: 'completed', result: '{}' }, t0 + 40), true);
      const again = await q.claim('a1', 5, t0 + 10 + 1000);
      assert.deepEqual(again.map((r) => [r.id, r.attempts]), [['d1', 2]]);
      assert.notEqual(again[0]!.lease_id, first[0]!.lease_id);
      assert.equal(await q.settle('d1', first[0]!.lease_id!, { resultState: 'completed', result: '{}' }, t0 + 1100), false, 'stale lease refused');
      assert.equal(await q.extend('d1', again[0]!.lease_id!, t0 + 1500), true);
      assert.equal(await q.settle('d1', again[0]!.lease_id!, { resultState: 'completed', result: '{}' }, t0 + 2400), true, 'extended lease still live');
      assert.equal(await q.settle('d1', again[0]!.lease_id!, { resultState: 'completed', result: '{}' }, t0 + 2400), false, 'settles once');
      assert.equal(await q.backlog('a1'), 0);
    });

    it('gives up after maxAttempts and reports the dead items', async () => {
      const t0 = 2_000_000;
      await q.enqueue([item('x1', 'a2')], undefined, t0);
      for (let i = 0; i < 3; i++) assert.equal((await q.claim('a2', 1, t0 + 1 + i * 1001)).length, 1);
      assert.deepEqual(await q.claim('a2', 1, t0 + 5000), [], 'no fourth attempt');
      const dead = await q.reapExhausted(t0 + 5000);
      assert.deepEqual(dead.map((d) => d.id), ['x1']);
      assert.deepEqual(await q.reapExhausted(t0 + 6000), []);
    });

    it('cancels the open items of a task', async () => {
      await q.enqueue([item('c1', 'a3'), item('c2', 'a3')], undefined, 3_000_000);
      await q.claim('a3', 1, 3_000_001);
      assert.equal(await q.cancelTask('t-c1', 3_000_002), 1);
      assert.equal(await q.cancelTask('t-c2', 3_000_002), 1);
      assert.deepEqual(await q.claim('a3', 5, 4_000_000), []);
    });

    it('takes a slow result whose lease ran out while nobody re-claimed it, and never hands that item out again', async () => {
      // Old behaviour: the result was refused because lease_until had passed, and the next claim
      // delivered the task a second time although its one worker had finished it.
      const t0 = 5_000_000;
      await q.enqueue([item('s1', 'a5')], undefined, t0);
      const [held] = await q.claim('a5', 1, t0 + 1);
      assert.ok(held);
      assert.equal(await q.extend('s1', held.lease_id!, t0 + 1500), true, 'a lapsed lease nobody took over can still be extended');
      assert.equal(await q.settle('s1', held.lease_id!, { resultState: 'completed', result: '{}' }, t0 + 5000), true, 'late but unchallenged: accepted');
      assert.deepEqual(await q.claim('a5', 5, t0 + 10_000), [], 'finished work is not delivered again');
      assert.equal(await q.settle('s1', held.lease_id!, { resultState: 'completed', result: '{}' }, t0 + 10_000), false, 'settles once');
    });

    it('fences a lease holder out once its lapsed item was re-claimed: result, progress and release refused', async () => {
      const t0 = 6_000_000;
      await q.enqueue([item('f1', 'a6')], undefined, t0);
      const [first] = await q.claim('a6', 1, t0 + 1);
      const [second] = await q.claim('a6', 1, t0 + 1 + 1000);
      assert.ok(first && second);
      assert.equal(second.attempts, 2);
      assert.notEqual(second.lease_id, first.lease_id);
      assert.equal(await q.settle('f1', first.lease_id!, { resultState: 'completed', result: '{}' }, t0 + 1100), false);
      assert.equal(await q.extend('f1', first.lease_id!, t0 + 1100), false);
      assert.equal(await q.release('f1', first.lease_id!, t0 + 1100), false);
      assert.equal(await q.settle('f1', second.lease_id!, { resultState: 'completed', result: '{}' }, t0 + 1200), true);
    });

    it('releases a claim that never reached its worker at once, without counting the attempt', async () => {
      const t0 = 7_000_000;
      await q.enqueue([item('r1', 'a7')], undefined, t0);
      const [lost] = await q.claim('a7', 1, t0 + 1);
      assert.ok(lost);
      assert.equal(await q.release('r1', lost.lease_id!, t0 + 2), true);
      const [again] = await q.claim('a7', 1, t0 + 3);
      assert.equal(again?.attempts, 1, 'the undelivered attempt is not counted');
      assert.notEqual(again?.lease_id, lost.lease_id);
      assert.deepEqual(Object.fromEntries(await q.backlogs(['a7', 'nobody'])), { a7: 1 });
    });

    it('never hands one item to two concurrent claimers', async () => {
      const now = Date.now();
      const n = 60;
      await q.enqueue(Array.from({ length: n }, (_, i) => item(`p${String(i).padStart(3, '0')}`, 'busy')), undefined, now);
      const claimers = Array.from({ length: 6 }, () => createTaskQueue(db.db, db.dialect, { leaseMs: 60_000, maxAttempts: 3 }));
      const got: string[] = [];
      await Promise.all(
        claimers.map(async (c) => {
          for (;;) {
            const rows = await c.claim('busy', 3, now + 1);
            if (rows.length === 0) return;
            got.push(...rows.map((r) => r.id));
          }
        }),
      );
      assert.equal(got.length, n);
      assert.equal(new Set(got).size, n);
    });
  });
}
