/** Agents, routing, delivery (long-poll and SSE), results, leases, idempotency — on SQLite and PostgreSQL. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS, meshAuditEvents, registerAgent, startMeshController, type MeshTestController } from './support.js';
import type { RouteAccepted, TaskStatus, WorkItem } from '../../mesh/contracts.js';

const CUSTOMER = 'Customer Maria Schmidt (maria.schmidt@posteo.de) asked for the invoice copy.';

for (const backend of BACKENDS) {
  describe(`mesh router on ${backend}`, () => {
    let c: MeshTestController;
    before(async () => {
      c = await startMeshController(backend, { leaseMs: 400, offlineAfterMs: 5_000 });
      await registerAgent(c, 'ana', 'ana-goose', { skills: ['invoice-review'], load: 0, locale: 'en-GB' });
      await registerAgent(c, 'lead', 'lead-goose', { skills: ['invoice-review'], load: 3, capacity: 4 });
      await registerAgent(c, 'mia', 'mia-goose', { skills: ['copywriting'] });
    });
    after(() => c.close());

    const poll = async (subject: string, agentId: string, waitMs = 0): Promise<WorkItem[]> => {
      const res = await c.call(subject, 'GET', `/api/v1/agents/${agentId}/work?waitMs=${waitMs}&max=10`);
      assert.equal(res.statusCode, 200, res.body);
      return res.json().items as WorkItem[];
    };

    it('registers agents, refuses foreign ids and roles not in the token, and lists who is online', async () => {
      const foreign = await c.call('mia', 'POST', '/api/v1/agents', { agentId: 'ana-goose', role: 'marketing' });
      assert.equal(foreign.statusCode, 409);
      assert.match(foreign.json().message, /registered by another identity/);
      const wrongRole = await c.call('mia', 'POST', '/api/v1/agents', { agentId: 'mia-2', role: 'finance' });
      assert.equal(wrongRole.statusCode, 403);
      assert.match(wrongRole.json().message, /role "finance" is not in your token/);
      const hb = await c.call('ana', 'POST', '/api/v1/agents/ana-goose/heartbeat', { load: 1 });
      assert.equal(hb.statusCode, 200);
      const list = await c.call('ana', 'GET', '/api/v1/agents?role=finance');
      const agents = list.json().agents as Array<{ agentId: string; online: boolean; load: number }>;
      assert.deepEqual(agents.map((a) => [a.agentId, a.online, a.load]), [['ana-goose', true, 1], ['lead-goose', true, 3]]);
      const hbOther = await c.call('mia', 'POST', '/api/v1/agents/ana-goose/heartbeat', {});
      assert.equal(hbOther.statusCode, 403);
    });

    it('lets only an agent\'s owner poll for its work, and counts a poll as a sign of life only when the stored one is stale', async () => {
      const stranger = await c.call('mia', 'GET', '/api/v1/agents/ana-goose/work?waitMs=0');
      assert.equal(stranger.statusCode, 403);
      assert.match(stranger.json().message, /belongs to another identity/);
      const unknown = await c.call('ana', 'GET', '/api/v1/agents/nobody-goose/work?waitMs=0');
      assert.equal(unknown.statusCode, 404);
      assert.match(unknown.json().message, /register it first/);
      const db = c.services.store.db;
      const lastSeen = async () => Number((await db.selectFrom('mesh_agents').select('last_seen').where('agent_id', '=', 'ana-goose').executeTakeFirstOrThrow()).last_seen);
      const setLastSeen = (t: number) => db.updateTable('mesh_agents').set({ last_seen: t }).where('agent_id', '=', 'ana-goose').execute();
      // A stranger's poll leaves no sign of life.
      const stale = Date.now() - 60_000;
      await setLastSeen(stale);
      await c.call('mia', 'GET', '/api/v1/agents/ana-goose/work?waitMs=0');
      assert.equal(await lastSeen(), stale);
      const before = Date.now();
      await poll('ana', 'ana-goose');
      assert.ok((await lastSeen()) >= before, 'a poll after a stale sign of life writes one');
      const fresh = Date.now() - 10;
      await setLastSeen(fresh);
      await poll('ana', 'ana-goose');
      assert.equal(await lastSeen(), fresh, 'a poll right after a sign of life does not write another');
    });

    it('routes to the least loaded agent of a role, masks the context for it, and completes with cost in the audit chain', async () => {
      const res = await c.call('mia', 'POST', '/api/v1/tasks/route', {
        target: 'finance',
        task: { title: 'Check invoice copy request', text: 'Please send the copy.' },
        context: CUSTOMER,
        policyHints: { skills: ['invoice-review'] },
      });
      assert.equal(res.statusCode, 202, res.body);
      const accepted = res.json() as RouteAccepted;
      assert.match(accepted.taskId, /^task-/);
      assert.match(accepted.contextId, /^ctx-/);
      assert.equal(accepted.state, 'submitted');
      assert.deepEqual(accepted.targets.map((t) => t.agentId), ['ana-goose']);

      assert.deepEqual(await poll('lead', 'lead-goose'), [], 'the busier agent gets nothing');
      const [item] = await poll('ana', 'ana-goose');
      assert.ok(item);
      assert.equal(item.taskId, accepted.taskId);
      assert.equal(item.attempt, 1);
      assert.equal(item.from.role, 'marketing');
      assert.ok(!item.context!.includes('Maria Schmidt'), 'PERSON masked for finance');
      assert.ok(!item.context!.includes('maria.schmidt@posteo.de'), 'EMAIL masked for finance');
      assert.deepEqual(item.redactions.map((r) => r.class).sort(), ['EMAIL', 'PERSON']);

      const progress = await c.call('ana', 'POST', `/api/v1/tasks/${item.taskId}/progress`, { leaseId: item.leaseId, state: 'working', message: 'looking' });
      assert.equal(progress.statusCode, 200, progress.body);
      assert.equal((progress.json() as TaskStatus).state, 'working');
      const done = await c.call('ana', 'POST', `/api/v1/tasks/${item.taskId}/result`, {
        leaseId: item.leaseId, state: 'completed', message: 'sent', artifacts: [{ name: 'note', text: 'copy sent' }], cost: { tokens: 1200, usd: 0.004 },
      });
      assert.equal(done.statusCode, 200, done.body);
      const status = await c.call('mia', 'GET', `/api/v1/status/${item.taskId}`);
      assert.equal(status.statusCode, 200);
      const st = status.json() as TaskStatus;
      assert.equal(st.kind, 'task');
      assert.equal(st.state, 'completed');
      assert.deepEqual(st.targets[0]!.artifacts, [{ name: 'note', text: 'copy sent' }]);
      const stranger = await c.call('cfo', 'GET', `/api/v1/status/${item.taskId}`);
      assert.equal(stranger.statusCode, 403);

      const events = await meshAuditEvents(c);
      const route = events.find((e) => e.action === 'mesh.route' && e.traceId === accepted.taskId);
      assert.ok(route, 'RouteEvent recorded');
      assert.match(route.target!, /ana-goose/);
      assert.equal(route.result, 'ok');
      const completed = events.find((e) => e.action === 'mesh.task.completed' && e.traceId === accepted.taskId);
      assert.deepEqual(completed?.cost, { tokens: 1200, usd: 0.004 });
      assert.ok(!JSON.stringify(events).includes('Maria'), 'no context value in the audit chain');
    });

    it('masks a class for one role and leaves it visible to another where policy allows', async () => {
      await c.call('mia', 'POST', '/api/v1/tasks/route', { target: 'ana-goose', task: { title: 'for finance' }, context: CUSTOMER });
      await c.call('ana', 'POST', '/api/v1/tasks/route', { target: 'mia-goose', task: { title: 'for marketing' }, context: CUSTOMER });
      const [fin] = await poll('ana', 'ana-goose');
      const [mkt] = await poll('mia', 'mia-goose');
      assert.ok(fin && mkt);
      assert.ok(!fin.context!.includes('Maria Schmidt'), 'finance policy masks PERSON');
      assert.ok(mkt.context!.includes('Maria Schmidt'), 'marketing policy only detects PERSON: visible');
      assert.ok(!mkt.context!.includes('maria.schmidt@posteo.de'), 'EMAIL is masked for marketing too');
      for (const [who, it] of [['ana', fin], ['mia', mkt]] as const) {
        await c.call(who, 'POST', `/api/v1/tasks/${it.taskId}/result`, { leaseId: it.leaseId, state: 'completed' });
      }
    });

    it('refuses context whose class the receiving role blocks, naming the class and not the value', async () => {
      const res = await c.call('mia', 'POST', '/api/v1/tasks/route', { target: 'finance', task: { title: 'pay' }, context: 'IBAN DE89 3704 0044 0532 0130 00 please' });
      assert.equal(res.statusCode, 422);
      assert.match(res.json().message, /blocks IBAN/);
      assert.ok(!res.body.includes('DE89'));
      const events = await meshAuditEvents(c);
      assert.ok(events.some((e) => e.action === 'mesh.route' && e.result === 'denied' && /IBAN/.test(e.reason ?? '')));
    });

    it('queues work for an offline agent, redelivers when a lease runs out, and refuses the stale worker', async () => {
      const res = await c.call('mia', 'POST', '/api/v1/tasks/route', { target: 'lead-goose', task: { title: 'later' } });
      const { taskId } = res.json() as RouteAccepted;
      const [first] = await poll('lead', 'lead-goose');
      assert.equal(first?.attempt, 1);
      await new Promise((r) => setTimeout(r, 450)); // the worker "crashed": its lease runs out
      const [second] = await poll('lead', 'lead-goose');
      assert.equal(second?.taskId, taskId);
      assert.equal(second?.attempt, 2);
      const stale = await c.call('lead', 'POST', `/api/v1/tasks/${taskId}/result`, { leaseId: first!.leaseId, state: 'completed' });
      assert.equal(stale.statusCode, 409);
      assert.match(stale.json().message, /no longer live/);
      const ok = await c.call('lead', 'POST', `/api/v1/tasks/${taskId}/result`, { leaseId: second!.leaseId, state: 'completed' });
      assert.equal(ok.statusCode, 200);
      const again = await c.call('lead', 'POST', `/api/v1/tasks/${taskId}/result`, { leaseId: second!.leaseId, state: 'completed' });
      assert.equal(again.statusCode, 200, 'the same result under the same lease is answered again');
      const completions = (await meshAuditEvents(c)).filter((e) => e.action === 'mesh.task.completed' && e.traceId === taskId);
      assert.equal(completions.length, 1, 'a task completes once');
    });

    it('long-poll returns as soon as work arrives', async () => {
      const waiting = poll('mia', 'mia-goose', 5_000);
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      await c.call('ana', 'POST', '/api/v1/tasks/route', { target: 'marketing', task: { title: 'wake up' } });
      const items = await waiting;
      assert.equal(items.length, 1);
      assert.equal(items[0]!.task.title, 'wake up');
      assert.ok(Date.now() - started < 4_000);
      await c.call('mia', 'POST', `/api/v1/tasks/${items[0]!.taskId}/result`, { leaseId: items[0]!.leaseId, state: 'completed' });
    });

    it('de-duplicates by messageId and replays writes by Idempotency-Key', async () => {
      const body = { target: 'finance', task: { title: 'once' }, messageId: 'msg-1' };
      const a = (await c.call('mia', 'POST', '/api/v1/tasks/route', body)).json() as RouteAccepted;
      const b = (await c.call('mia', 'POST', '/api/v1/tasks/route', body)).json() as RouteAccepted;
      assert.equal(b.taskId, a.taskId);
      assert.equal(b.duplicate, true);

      const body2 = { target: 'finance', task: { title: 'keyed' } };
      const first = await c.call('mia', 'POST', '/api/v1/tasks/route', body2, { 'idempotency-key': 'k-1' });
      const replay = await c.call('mia', 'POST', '/api/v1/tasks/route', body2, { 'idempotency-key': 'k-1' });
      assert.equal(replay.statusCode, 202);
      assert.equal(replay.headers['idempotent-replay'], 'true');
      assert.equal(replay.json().taskId, first.json().taskId);
      const misuse = await c.call('mia', 'POST', '/api/v1/tasks/route', { ...body2, task: { title: 'other' } }, { 'idempotency-key': 'k-1' });
      assert.equal(misuse.statusCode, 422);
      assert.match(misuse.json().message, /already used for a different request/);
      const badKey = await c.call('mia', 'POST', '/api/v1/tasks/route', body2, { 'idempotency-key': 'has space' });
      assert.equal(badKey.statusCode, 400);
      const tasks = await c.services.store.db.selectFrom('mesh_tasks').select('id').where('title', 'in', ['once', 'keyed']).execute();
      assert.equal(tasks.length, 2, 'one task each');
      // drain
      for (const [who, id] of [['ana', 'ana-goose'], ['lead', 'lead-goose']] as const) {
        for (const it of await poll(who, id)) await c.call(who, 'POST', `/api/v1/tasks/${it.taskId}/result`, { leaseId: it.leaseId, state: 'completed' });
      }
    });

    it('fans out, explains unknown targets, and lets the sender cancel', async () => {
      const res = await c.call('mia', 'POST', '/api/v1/tasks/route', { target: 'finance', task: { title: 'everyone' }, policyHints: { fanout: 5 } });
      const accepted = res.json() as RouteAccepted;
      assert.deepEqual(accepted.targets.map((t) => t.agentId).sort(), ['ana-goose', 'lead-goose']);
      const cancel = await c.call('mia', 'POST', `/api/v1/tasks/${accepted.taskId}/cancel`);
      assert.equal(cancel.statusCode, 200);
      assert.equal(cancel.json().state, 'canceled');
      assert.deepEqual(await poll('ana', 'ana-goose'), []);
      const unknown = await c.call('mia', 'POST', '/api/v1/tasks/route', { target: 'pirates', task: { title: 'x' } });
      assert.equal(unknown.statusCode, 404);
      assert.match(unknown.json().message, /not a registered agent id, a person in the directory, or a role/);
      const nowhere = await c.call('mia', 'POST', '/api/v1/tasks/route', { task: { title: 'x' } });
      assert.equal(nowhere.statusCode, 400);
      // A name is an agent id before a person id before a role: an agent named like a role takes
      // the role's name, a person's id reaches that person's agents, and the role keeps the rest.
      await registerAgent(c, 'ana', 'finance');
      const fanout = async (target: string) => {
        const r = await c.call('mia', 'POST', '/api/v1/tasks/route', { target, task: { title: `to ${target}` }, policyHints: { fanout: 5 } });
        assert.equal(r.statusCode, 202, r.body);
        const a = r.json() as RouteAccepted;
        assert.equal((await c.call('mia', 'POST', `/api/v1/tasks/${a.taskId}/cancel`)).statusCode, 200);
        return a.targets.map((t) => t.agentId).sort();
      };
      assert.deepEqual(await fanout('finance'), ['finance']);
      assert.deepEqual(await fanout('ana'), ['ana-goose', 'finance']);
      assert.deepEqual(await fanout('lead'), ['lead-goose']);
      await c.services.store.db.deleteFrom('mesh_agents').where('agent_id', '=', 'finance').execute();
      assert.deepEqual(await fanout('finance'), ['ana-goose', 'lead-goose']);
      const noAgents = await c.call('mia', 'POST', '/api/v1/tasks/route', { target: 'engineering', task: { title: 'x' } });
      assert.equal(noAgents.statusCode, 404);
      assert.match(noAgents.json().message, /no agent is registered for role "engineering"/);
    });

    it('streams work over SSE', async () => {
      await c.app.listen({ host: '127.0.0.1', port: 0 });
      const addr = c.app.server.address() as { port: number };
      const token = await c.token('mia', ['marketing']);
      const ac = new AbortController();
      const res = await fetch(`http://127.0.0.1:${addr.port}/api/v1/agents/mia-goose/work/stream`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
      await c.call('ana', 'POST', '/api/v1/tasks/route', { target: 'mia-goose', task: { title: 'streamed' } });
      const reader = res.body!.getReader();
      let text = '';
      const workEvent = /event: work\nid: [^\n]+\ndata: (.+)\n\n/;
      while (!workEvent.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      ac.abort();
      const data = workEvent.exec(text);
      assert.ok(data, text);
      const item = JSON.parse(data[1]!) as WorkItem;
      assert.equal(item.task.title, 'streamed');
      await c.call('mia', 'POST', `/api/v1/tasks/${item.taskId}/result`, { leaseId: item.leaseId, state: 'completed' });
    });
  });
}
