/** Two controller instances on one PostgreSQL database serve the same agents: no task is delivered twice. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startMeshController, type MeshTestController } from './support.js';
import type { WorkItem } from '../../mesh/contracts.js';
import { verifyChains } from '../../audit/verify-chain.js';
import type { AuditEvent } from '../../audit/event.js';

describe('two controllers on one PostgreSQL database', () => {
  let a: MeshTestController;
  let b: MeshTestController;
  before(async () => {
    a = await startMeshController('postgres', { repollMs: 50 });
    b = await startMeshController('postgres', { repollMs: 50 }, { dataDir: a.dataDir, dbUrl: a.dbUrl });
  });
  after(async () => {
    await b.close();
    await a.close();
  });

  it('routes through either, delivers each task once across both, and keeps one verifiable chain per process', async () => {
    const reg = await a.call('ana', 'POST', '/api/v1/agents', { agentId: 'ana-goose', role: 'finance', capacity: 100 });
    assert.equal(reg.statusCode, 200);
    const n = 40;
    const sent = await Promise.all(
      Array.from({ length: n }, (_, i) => (i % 2 ? a : b).call('mia', 'POST', '/api/v1/tasks/route', { target: 'ana-goose', task: { title: `t${i}` }, messageId: `m${i}` })),
    );
    assert.ok(sent.every((r) => r.statusCode === 202));
    const taskIds = new Set(sent.map((r) => r.json().taskId as string));
    assert.equal(taskIds.size, n);

    // The same agent polls both controllers at once (two workers), until everything is drained.
    const received: WorkItem[] = [];
    const worker = async (c: MeshTestController) => {
      for (let idle = 0; idle < 3; ) {
        const res = await c.call('ana', 'GET', '/api/v1/agents/ana-goose/work?waitMs=100&max=3');
        const items = res.json().items as WorkItem[];
        if (items.length === 0) idle++;
        for (const it of items) {
          received.push(it);
          const done = await c.call('ana', 'POST', `/api/v1/tasks/${it.taskId}/result`, { leaseId: it.leaseId, state: 'completed' });
          assert.equal(done.statusCode, 200, done.body);
        }
      }
    };
    await Promise.all([worker(a), worker(b), worker(a), worker(b)]);
    assert.equal(received.length, n, 'every task delivered');
    assert.equal(new Set(received.map((r) => r.taskId)).size, n, 'no task delivered twice');
    assert.ok(received.every((r) => r.attempt === 1));
    const states = await a.services.store.db.selectFrom('mesh_tasks').select('state').execute();
    assert.ok(states.every((s) => s.state === 'completed'));

    await a.services.mesh.audit.flush();
    await b.services.mesh.audit.flush();
    const rows = await a.services.store.db.selectFrom('audit_events').select('event').orderBy('chain_id').orderBy('seq').execute();
    const report = verifyChains(rows.map((r) => JSON.parse(r.event) as AuditEvent));
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.equal(report.chains.length, 2, 'one chain per controller process');
    const alerts = await a.services.store.db.selectFrom('audit_alerts').select('kind').execute();
    assert.deepEqual(alerts, []);
  });
});
