/**
 * Wake-ups that let waiting long-polls re-check the queue rarely (decision 0074): a route in
 * another controller process reaches a poll waiting here through PostgreSQL LISTEN/NOTIFY, the
 * sweeper wakes the poll of an agent whose lease ran out, and a wake-up that arrives while a
 * poll's claim is in flight is not missed. The re-check interval is an hour and each poll below
 * may wait 60 s (its last claim at the deadline would find the item too), so without the wake-up
 * the test runs into its 30 s timeout instead of passing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS, registerAgent, startMeshController, type MeshTestController } from './support.js';
import { Wakeups } from '../../controller/mesh/wakeups.js';
import type { WorkItem } from '../../mesh/contracts.js';

const NEVER = 3_600_000;

describe('Wakeups', () => {
  it('a wake-up between taking a ticket and waiting ends the wait at once', async () => {
    const w = new Wakeups({ repollMs: NEVER, notifiedRepollMs: NEVER });
    const ticket = w.ticket('a1');
    w.wake('a1');
    let resolved = false;
    void w.wait('a1', NEVER, undefined, ticket).then(() => (resolved = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(resolved, true);
    // Another agent's wake-up does not count for this one.
    const other = w.ticket('a2');
    w.wake('a1');
    const ac = new AbortController();
    let otherResolved = false;
    const waiting = w.wait('a2', NEVER, ac.signal, other).then(() => (otherResolved = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(otherResolved, false);
    ac.abort();
    await waiting;
  });

  it('re-checks on the long interval only while a live channel announces wake-ups', () => {
    const w = new Wakeups({ repollMs: 1_000, notifiedRepollMs: 10_000 });
    assert.equal(w.repollMs(), 1_000);
    const channel = { live: true, published: [] as string[], publish(id: string) { this.published.push(id); } };
    w.attach(channel);
    assert.equal(w.repollMs(), 10_000);
    w.wake('a1');
    assert.deepEqual(channel.published, ['a1']);
    w.wakeLocal('a2');
    assert.deepEqual(channel.published, ['a1'], 'a wake-up from elsewhere is not announced again');
    channel.live = false;
    assert.equal(w.repollMs(), 1_000);
  });
});

describe('a route through one controller wakes a poll waiting in another (PostgreSQL NOTIFY)', () => {
  let a: MeshTestController;
  let b: MeshTestController;
  before(async () => {
    const slow = { repollMs: NEVER, notifiedRepollMs: NEVER };
    a = await startMeshController('postgres', slow);
    b = await startMeshController('postgres', slow, { dataDir: a.dataDir, dbUrl: a.dbUrl });
    await registerAgent(a, 'ana', 'ana-goose');
  });
  after(async () => {
    await b.close();
    await a.close();
  });

  it('delivers the task to the poll on A', { timeout: 30_000 }, async () => {
    // The LISTEN connections open after start-up.
    for (let i = 0; i < 100 && !(a.services.mesh.wakeups.repollMs() === NEVER && b.services.mesh.wakeups.repollMs() === NEVER); i++) await new Promise((r) => setTimeout(r, 50));
    const polled = a.call('ana', 'GET', '/api/v1/agents/ana-goose/work?waitMs=60000&max=1');
    // The poll is waiting (its first claim found nothing) before the route is sent.
    await new Promise((r) => setTimeout(r, 300));
    const routed = await b.call('mia', 'POST', '/api/v1/tasks/route', { target: 'ana-goose', task: { title: 'across' }, messageId: 'across-1' });
    assert.equal(routed.statusCode, 202, routed.body);
    const items = (await polled).json().items as WorkItem[];
    assert.equal(items.length, 1, 'the poll got the task');
    assert.equal(items[0]!.taskId, routed.json().taskId);
  });
});

for (const backend of BACKENDS) {
  describe(`the sweeper wakes a poll when a lease runs out, on ${backend}`, () => {
    let c: MeshTestController;
    before(async () => {
      c = await startMeshController(backend, { leaseMs: 300, sweepMs: 50, repollMs: NEVER, notifiedRepollMs: NEVER });
      await registerAgent(c, 'ana', 'ana-goose');
    });
    after(() => c.close());

    it('hands the expired item out again to the waiting poll', { timeout: 30_000 }, async () => {
      const routed = await c.call('mia', 'POST', '/api/v1/tasks/route', { target: 'ana-goose', task: { title: 'lapsed' } });
      assert.equal(routed.statusCode, 202, routed.body);
      const first = (await c.call('ana', 'GET', '/api/v1/agents/ana-goose/work?waitMs=0&max=1')).json().items as WorkItem[];
      assert.equal(first[0]?.attempt, 1);
      // The worker never answers; a new poll waits while the lease runs out.
      const again = (await c.call('ana', 'GET', '/api/v1/agents/ana-goose/work?waitMs=60000&max=1')).json().items as WorkItem[];
      assert.equal(again.length, 1, 'the poll got the expired item');
      assert.equal(again[0]!.taskId, routed.json().taskId);
      assert.equal(again[0]!.attempt, 2);
    });
  });
}
