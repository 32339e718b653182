/**
 * Idempotency-Key after a controller process died mid-request: its unfinished claim stops being
 * refreshed, and a retry (on another controller) takes over within seconds — while a claim that
 * is still being refreshed keeps answering 409.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { BACKENDS, registerAgent, startMeshController, type MeshTestController } from './support.js';
import { ABANDONED_AFTER_MS } from '../../controller/idempotency/hook.js';

const URL_ROUTE = '/api/v1/tasks/route';

for (const backend of BACKENDS) {
  describe(`Idempotency-Key takeover on ${backend}`, () => {
    let c: MeshTestController;
    before(async () => {
      c = await startMeshController(backend);
      await registerAgent(c, 'ana', 'ana-goose');
    });
    after(() => c.close());

    /** The claim a first request leaves behind when its process is killed before answering. */
    const orphan = async (key: string, body: unknown, ageMs: number) => {
      const fingerprint = createHash('sha256').update(`POST ${URL_ROUTE}\n${JSON.stringify(body)}`).digest('hex');
      await c.services.store.db.insertInto('mesh_idempotency').values({ subject: 'mia', key, fingerprint, status: null, body: null, created_at: Date.now() - ageMs }).execute();
    };

    it('runs a retry whose first request\'s process stopped refreshing its claim, well before the 60 s lease of a task', async () => {
      assert.ok(ABANDONED_AFTER_MS <= 10_000);
      const body = { target: 'ana-goose', task: { title: 'orphaned' }, messageId: 'orphan-1' };
      await orphan('k-dead', body, ABANDONED_AFTER_MS + 1_000);
      const retry = await c.call('mia', 'POST', URL_ROUTE, body, { 'idempotency-key': 'k-dead' });
      assert.equal(retry.statusCode, 202, retry.body);
      const replay = await c.call('mia', 'POST', URL_ROUTE, body, { 'idempotency-key': 'k-dead' });
      assert.equal(replay.headers['idempotent-replay'], 'true');
      assert.equal(replay.json().taskId, retry.json().taskId);
    });

    it('keeps answering 409 while the first request is alive', async () => {
      const body = { target: 'ana-goose', task: { title: 'running' } };
      await orphan('k-live', body, 0);
      const retry = await c.call('mia', 'POST', URL_ROUTE, body, { 'idempotency-key': 'k-live' });
      assert.equal(retry.statusCode, 409);
      assert.match(retry.json().message, /still running/);
    });
  });
}
