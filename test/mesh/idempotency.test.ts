/**
 * Idempotency-Key after a controller process died mid-request: its unfinished claim stops being
 * refreshed, and a retry (on another controller) takes over within seconds — while a claim that
 * is still being refreshed keeps answering 409. And the documented exception: a heartbeat's key is
 * checked for form but not stored, so a repeat runs again. And a route's and a result's answer
 * are stored in the write of their audit event (decision 0079), replayed byte for byte.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { BACKENDS, registerAgent, startMeshController, type MeshTestController } from './support.js';
import { ABANDONED_AFTER_MS, type IdempotencyAnswer } from '../../controller/idempotency/hook.js';
import { AuditRepository } from '../../controller/audit/repository.js';
import type { WorkItem } from '../../mesh/contracts.js';

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

    it('stores a route\'s and a result\'s answer in the write of its audit event, and replays it byte for byte', async () => {
      // What each audit batch carried: the answers must ride the event's write, not a write of their own.
      const carried: IdempotencyAnswer[] = [];
      const original = AuditRepository.prototype.appendOwnChain;
      AuditRepository.prototype.appendOwnChain = function (events, writer, now, answers = []) {
        carried.push(...answers);
        return original.call(this, events, writer, now, answers);
      };
      try {
        const body = { target: 'ana-goose', task: { title: 'stored with its event' } };
        const first = await c.call('mia', 'POST', URL_ROUTE, body, { 'idempotency-key': 'k-route-ev' });
        assert.equal(first.statusCode, 202, first.body);
        assert.deepEqual(carried, [{ subject: 'mia', key: 'k-route-ev', status: 202, body: first.body }]);
        const replay = await c.call('mia', 'POST', URL_ROUTE, body, { 'idempotency-key': 'k-route-ev' });
        assert.equal(replay.statusCode, 202);
        assert.equal(replay.headers['idempotent-replay'], 'true');
        assert.equal(replay.headers['content-type'], first.headers['content-type']);
        assert.equal(replay.body, first.body);

        const work = await c.call('ana', 'GET', '/api/v1/agents/ana-goose/work?waitMs=0&max=5');
        const item = (work.json().items as WorkItem[]).find((i) => i.taskId === first.json().taskId)!;
        const url = `/api/v1/tasks/${item.taskId}/result`;
        const result = { leaseId: item.leaseId, state: 'completed', message: 'done' };
        const done = await c.call('ana', 'POST', url, result, { 'idempotency-key': 'k-result-ev' });
        assert.equal(done.statusCode, 200, done.body);
        assert.equal(done.json().state, 'completed');
        assert.deepEqual(carried.at(-1), { subject: 'ana', key: 'k-result-ev', status: 200, body: done.body });
        const again = await c.call('ana', 'POST', url, result, { 'idempotency-key': 'k-result-ev' });
        assert.equal(again.headers['idempotent-replay'], 'true');
        assert.equal(again.body, done.body);
        // A repeat under the same lease with a new key is answered from the task, not applied again (and carries no event).
        const carriedBefore = carried.length;
        const repeat = await c.call('ana', 'POST', url, result, { 'idempotency-key': 'k-result-ev-2' });
        assert.equal(repeat.statusCode, 200, repeat.body);
        assert.equal(carried.length, carriedBefore);
        const stored = await c.services.store.db.selectFrom('mesh_idempotency').select(['status', 'body']).where('subject', '=', 'ana').where('key', '=', 'k-result-ev-2').executeTakeFirstOrThrow();
        assert.deepEqual(stored, { status: 200, body: repeat.body });
      } finally {
        AuditRepository.prototype.appendOwnChain = original;
      }
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
