/**
 * No double delivery, end to end over HTTP on both backends: a worker whose lease ran out while
 * nobody re-claimed its task still finishes it (and the task is not handed out again), a repeated
 * result of the same attempt is answered without a second completion, and a re-claimed attempt's
 * old holder is refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS, meshAuditEvents, registerAgent, startMeshController, type MeshTestController } from './support.js';
import type { RouteAccepted, WorkItem } from '../../mesh/contracts.js';

const LEASE_MS = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const backend of BACKENDS) {
  describe(`task delivery on ${backend}`, () => {
    let c: MeshTestController;
    before(async () => {
      c = await startMeshController(backend, { leaseMs: LEASE_MS, repollMs: 50 });
      await registerAgent(c, 'ana', 'ana-goose');
    });
    after(() => c.close());

    const poll = async (): Promise<WorkItem[]> => (await c.call('ana', 'GET', '/api/v1/agents/ana-goose/work?waitMs=0&max=5')).json().items as WorkItem[];
    const route = async (title: string): Promise<string> => {
      const res = await c.call('mia', 'POST', '/api/v1/tasks/route', { target: 'ana-goose', task: { title } });
      assert.equal(res.statusCode, 202, res.body);
      return (res.json() as RouteAccepted).taskId;
    };

    it('accepts a slow worker\'s result after its lease ran out unchallenged, and does not deliver the task again', async () => {
      const taskId = await route('slow');
      const [item] = await poll();
      assert.equal(item?.taskId, taskId);
      await sleep(LEASE_MS + 150); // the worker is slow, but alive: nobody else has the task
      const done = await c.call('ana', 'POST', `/api/v1/tasks/${taskId}/result`, { leaseId: item!.leaseId, state: 'completed', cost: { tokens: 5, usd: 0 } });
      assert.equal(done.statusCode, 200, done.body);
      assert.equal(done.json().state, 'completed');
      await sleep(LEASE_MS + 50);
      assert.deepEqual(await poll(), [], 'a finished task is not delivered a second time');

      const repeat = await c.call('ana', 'POST', `/api/v1/tasks/${taskId}/result`, { leaseId: item!.leaseId, state: 'completed', cost: { tokens: 5, usd: 0 } });
      assert.equal(repeat.statusCode, 200, 'a repeated result of the same attempt is answered (its first answer may have been lost)');
      const other = await c.call('ana', 'POST', `/api/v1/tasks/${taskId}/result`, { leaseId: item!.leaseId, state: 'failed' });
      assert.equal(other.statusCode, 409, 'but not turned into another outcome');
      const completions = (await meshAuditEvents(c)).filter((e) => e.action === 'mesh.task.completed' && e.traceId === taskId);
      assert.equal(completions.length, 1, 'completed once in the audit chain');
    });

    it('a repeated result after a controller died between settling and storing the task state stores it', async () => {
      const taskId = await route('crash window');
      const [item] = await poll();
      assert.equal(item?.taskId, taskId);
      // The first attempt's controller settled the delivery and died before refreshing the task row.
      assert.ok(await c.services.mesh.queue.settle(item!.deliveryId, item!.leaseId, { resultState: 'completed', result: JSON.stringify({ message: null, artifacts: [], cost: { tokens: 5, usd: 0 } }) }));
      const stored = async () => (await c.services.store.db.selectFrom('mesh_tasks').select('state').where('id', '=', taskId).executeTakeFirstOrThrow()).state;
      assert.equal(await stored(), 'submitted');
      const repeat = await c.call('ana', 'POST', `/api/v1/tasks/${taskId}/result`, { leaseId: item!.leaseId, state: 'completed', cost: { tokens: 5, usd: 0 } });
      assert.equal(repeat.statusCode, 200, repeat.body);
      assert.equal(repeat.json().state, 'completed');
      assert.equal(await stored(), 'completed');
    });

    it('fences out the holder of a re-claimed attempt and lets the new holder finish', async () => {
      const taskId = await route('crashed worker');
      const [first] = await poll();
      await sleep(LEASE_MS + 100); // the first worker crashed: its lease runs out and the task comes back
      const [second] = await poll();
      assert.equal(second?.taskId, taskId);
      assert.equal(second?.attempt, 2);
      const stale = await c.call('ana', 'POST', `/api/v1/tasks/${taskId}/result`, { leaseId: first!.leaseId, state: 'completed' });
      assert.equal(stale.statusCode, 409);
      const staleProgress = await c.call('ana', 'POST', `/api/v1/tasks/${taskId}/progress`, { leaseId: first!.leaseId, state: 'working' });
      assert.equal(staleProgress.statusCode, 409);
      const ok = await c.call('ana', 'POST', `/api/v1/tasks/${taskId}/result`, { leaseId: second!.leaseId, state: 'completed' });
      assert.equal(ok.statusCode, 200, ok.body);
    });
  });
}
