/**
 * Idempotency-Key after a controller process died mid-request: its unfinished claim stops being
 * refreshed, and a retry (on another controller) takes over within seconds — while a claim that
 * is still being refreshed keeps answering 409. And the documented exception: a heartbeat's key is
 * checked for form but not stored, so a repeat runs again.
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

    it('does not store a heartbeat\'s Idempotency-Key: a repeat runs again (and still only for the agent\'s owner)', async () => {
      const url = '/api/v1/agents/ana-goose/heartbeat';
      const lastSeen = async () => Number((await c.services.store.db.selectFrom('mesh_agents').select('last_seen').where('agent_id', '=', 'ana-goose').executeTakeFirstOrThrow()).last_seen);
      const first = await c.call('ana', 'POST', url, { load: 2 }, { 'idempotency-key': 'k-beat' });
      assert.equal(first.statusCode, 200, first.body);
      const seenFirst = await lastSeen();
      await new Promise((r) => setTimeout(r, 5));
      const repeat = await c.call('ana', 'POST', url, { load: 3 }, { 'idempotency-key': 'k-beat' });
      // A stored key would have made this a 422 (same key, different body).
      assert.equal(repeat.statusCode, 200, repeat.body);
      assert.equal(repeat.headers['idempotent-replay'], undefined);
      assert.ok((await lastSeen()) > seenFirst);
      const agent = await c.call('ana', 'GET', '/api/v1/agents?role=finance');
      assert.equal((agent.json().agents as Array<{ agentId: string; load: number }>).find((a) => a.agentId === 'ana-goose')?.load, 3);
      const stored = await c.services.store.db.selectFrom('mesh_idempotency').select('key').where('key', '=', 'k-beat').execute();
      assert.deepEqual(stored, []);
      const malformed = await c.call('ana', 'POST', url, {}, { 'idempotency-key': 'has space' });
      assert.equal(malformed.statusCode, 400);
      const foreign = await c.call('mia', 'POST', url, {}, { 'idempotency-key': 'k-beat-2' });
      assert.equal(foreign.statusCode, 403);
      const missing = await c.call('ana', 'POST', '/api/v1/agents/nobody-goose/heartbeat', {}, { 'idempotency-key': 'k-beat-3' });
      assert.equal(missing.statusCode, 404);
      // Other writes still store theirs.
      const routed = await c.call('mia', 'POST', URL_ROUTE, { target: 'ana-goose', task: { title: 'stored' } }, { 'idempotency-key': 'k-stored' });
      assert.equal(routed.statusCode, 202, routed.body);
      assert.equal((await c.services.store.db.selectFrom('mesh_idempotency').select('key').where('key', '=', 'k-stored').execute()).length, 1);
    });
  });
}
