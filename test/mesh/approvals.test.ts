/** Approvals (every state transition, escalation through two levels) and sessions with hand-offs. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS, meshAuditEvents, registerAgent, startMeshController, type MeshTestController } from './support.js';
import type { ApprovalStatus, SessionStatus, WorkItem } from '../../mesh/contracts.js';

const PAYLOAD = { campaign: 'Q3 spring', budgetUsd: 12000, note: 'target list from Maria Schmidt (maria.schmidt@posteo.de)' };

for (const backend of BACKENDS) {
  describe(`mesh approvals and sessions on ${backend}`, () => {
    let c: MeshTestController;
    before(async () => {
      c = await startMeshController(backend);
      await registerAgent(c, 'ana', 'ana-goose');
      await registerAgent(c, 'lead', 'lead-goose');
      await registerAgent(c, 'cfo', 'cfo-goose');
      await registerAgent(c, 'mia', 'mia-goose');
    });
    after(() => c.close());

    const request = async (extra: Record<string, unknown> = {}) => {
      const res = await c.call('mia', 'POST', '/api/v1/approvals', { stepId: 'budget', approverRole: 'finance', payload: PAYLOAD, deadlineSeconds: 600, ...extra });
      assert.equal(res.statusCode, 201, res.body);
      return res.json() as ApprovalStatus;
    };
    const decide = (who: string, a: ApprovalStatus, decision: 'approved' | 'denied', hash = a.payloadHash) =>
      c.call(who, 'POST', `/api/v1/approvals/${a.id}/decision`, { decision, payloadHash: hash, notes: `${decision} by ${who}` });
    const later = (minutes: number) => Date.now() + minutes * 60_000;

    it('resolves the approver from the org chart, answers at once, and shows each viewer a masked payload', async () => {
      const a = await request();
      assert.equal(a.state, 'requested');
      assert.equal(a.approver, 'ana', 'the finance member lowest in the chart');
      assert.deepEqual(a.chain, ['ana', 'lead', 'cfo']);
      assert.match(a.payloadHash, /^[0-9a-f]{64}$/);
      assert.ok(a.payload.includes('Maria Schmidt'), 'the marketing requester sees PERSON (detect only)');
      assert.ok(!a.payload.includes('maria.schmidt@posteo.de'));
      const items = (await c.call('ana', 'GET', '/api/v1/agents/ana-goose/work?waitMs=0&max=10')).json().items as WorkItem[];
      const item = items.find((i) => i.approvalId === a.id);
      assert.ok(item);
      assert.equal(item.kind, 'approval');
      assert.equal(item.payloadHash, a.payloadHash);
      assert.ok(!item.context!.includes('Maria Schmidt'), 'finance sees PERSON masked');
      assert.ok(item.context!.includes('12000'));
      const ack = await c.call('ana', 'POST', `/api/v1/deliveries/${item.deliveryId}/ack`, { leaseId: item.leaseId });
      assert.equal(ack.statusCode, 200);
      const viewAna = (await c.call('ana', 'GET', `/api/v1/status/${a.id}`)).json() as ApprovalStatus;
      assert.ok(!viewAna.payload.includes('Maria Schmidt'));
      assert.equal((await c.call('admin', 'GET', `/api/v1/approvals/${a.id}`)).statusCode, 200);
      const pending = (await c.call('ana', 'GET', '/api/v1/approvals')).json().approvals as ApprovalStatus[];
      assert.ok(pending.some((p) => p.id === a.id));
    });

    it('first decision wins; a second decision, a wrong approver and a wrong payload hash are refused', async () => {
      const a = await request();
      const wrongHash = await decide('ana', a, 'approved', 'f'.repeat(64));
      assert.equal(wrongHash.statusCode, 409);
      assert.match(wrongHash.json().message, /payloadHash does not match/);
      const wrongPerson = await decide('lead', a, 'approved');
      assert.equal(wrongPerson.statusCode, 403);
      assert.match(wrongPerson.json().message, /waits for ana/);
      const ok = await decide('ana', a, 'denied');
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.json().state, 'denied');
      const second = await decide('ana', a, 'approved');
      assert.equal(second.statusCode, 409);
      assert.match(second.json().message, /already denied by ana; the first decision stands/);
      const withdraw = await c.call('mia', 'POST', `/api/v1/approvals/${a.id}/withdraw`);
      assert.equal(withdraw.statusCode, 409);
    });

    it('concurrent decisions: exactly one wins', async () => {
      const a = await request();
      const results = await Promise.all([decide('ana', a, 'approved'), decide('ana', a, 'denied'), decide('ana', a, 'approved')]);
      assert.equal(results.filter((r) => r.statusCode === 200).length, 1);
      assert.equal(results.filter((r) => r.statusCode === 409).length, 2);
    });

    it('withdrawal by the requester only', async () => {
      const a = await request();
      assert.equal((await c.call('ana', 'POST', `/api/v1/approvals/${a.id}/withdraw`)).statusCode, 403);
      const w = await c.call('mia', 'POST', `/api/v1/approvals/${a.id}/withdraw`);
      assert.equal(w.statusCode, 200);
      assert.equal(w.json().state, 'withdrawn');
      assert.equal((await decide('ana', a, 'approved')).statusCode, 409);
    });

    it('escalates up the manager chain through two levels, then expires (fail closed)', async () => {
      const a = await request();
      assert.ok((await c.services.mesh.approvals.sweep(later(11))) >= 1);
      let s = (await c.call('mia', 'GET', `/api/v1/status/${a.id}`)).json() as ApprovalStatus;
      assert.deepEqual([s.state, s.approver, s.level], ['requested', 'lead', 1]);
      assert.equal((await decide('ana', a, 'approved')).statusCode, 403, 'the first approver lost the turn');
      const leadItems = (await c.call('lead', 'GET', '/api/v1/agents/lead-goose/work?waitMs=0&max=10')).json().items as WorkItem[];
      assert.ok(leadItems.some((i) => i.approvalId === a.id), 'the manager was sent the request');
      assert.ok((await c.services.mesh.approvals.sweep(later(22))) >= 1);
      s = (await c.call('mia', 'GET', `/api/v1/status/${a.id}`)).json() as ApprovalStatus;
      assert.deepEqual([s.state, s.approver, s.level], ['requested', 'cfo', 2]);
      assert.ok((await c.services.mesh.approvals.sweep(later(33))) >= 1);
      s = (await c.call('mia', 'GET', `/api/v1/status/${a.id}`)).json() as ApprovalStatus;
      assert.equal(s.state, 'expired');
      const late = await decide('cfo', a, 'approved');
      assert.equal(late.statusCode, 409);
      assert.match(late.json().message, /already expired/);
      const events = (await meshAuditEvents(c)).filter((e) => e.traceId === a.id).map((e) => [e.action, e.actor.id]);
      assert.deepEqual(events, [['mesh.route', 'mia-goose'], ['mesh.approval.requested', 'mia'], ['mesh.approval.escalated', 'lead'], ['mesh.approval.escalated', 'cfo'], ['mesh.approval.expired', 'cfo']]);
    });

    it('a decision after the deadline is refused and the request moves on', async () => {
      // The escalated request gets the same window again: wide enough for the manager's call on a loaded machine.
      const a = await request({ deadlineSeconds: 2 });
      await new Promise((r) => setTimeout(r, 2100));
      const res = await decide('ana', a, 'approved');
      assert.equal(res.statusCode, 409);
      assert.match(res.json().message, /deadline .* passed .* escalated to lead/);
      const ok = await decide('lead', a, 'approved');
      assert.equal(ok.statusCode, 200);
      assert.equal(ok.json().decidedBy, 'lead');
    });

    it('the manager of the requester, and bad approver input, are explained', async () => {
      const res = await c.call('mia', 'POST', '/api/v1/approvals', { stepId: 's', approver: 'manager', payload: 'ok?' });
      assert.equal(res.statusCode, 201);
      assert.equal(res.json().approver, 'cfo');
      const both = await c.call('mia', 'POST', '/api/v1/approvals', { stepId: 's', approver: 'cfo', approverRole: 'finance', payload: 'x' });
      assert.equal(both.statusCode, 400);
      const nobody = await c.call('mia', 'POST', '/api/v1/approvals', { stepId: 's', approver: 'nobody', payload: 'x' });
      assert.equal(nobody.statusCode, 404);
    });

    it('sessions: hand-offs keep one masked shard per receiving role, visible to that role and the sender only', async () => {
      const created = await c.call('mia', 'POST', '/api/v1/sessions', { participants: ['finance'], scope: 'Q3 campaign budget' });
      assert.equal(created.statusCode, 201, created.body);
      const session = created.json() as SessionStatus;
      assert.match(session.id, /^ctx-/);
      const ho = await c.call('mia', 'PATCH', `/api/v1/sessions/${session.id}/handoff`, {
        to: 'ana-goose', task: { title: 'check the budget' }, context: 'Customer Maria Schmidt asked for it.', stepId: 'check',
      });
      assert.equal(ho.statusCode, 202, ho.body);
      const handoffTask = ho.json().taskId as string;
      const a = await request({ sessionId: session.id, stepId: 'approve' });

      const forFinance = (await c.call('ana', 'GET', `/api/v1/sessions/${session.id}`)).json() as SessionStatus;
      assert.equal(forFinance.shards.length, 1);
      assert.equal(forFinance.shards[0]!.audienceRole, 'finance');
      assert.ok(!forFinance.shards[0]!.text.includes('Maria Schmidt'));
      assert.deepEqual(forFinance.tasks.map((t) => t.id), [handoffTask]);
      assert.deepEqual(forFinance.approvals.map((x) => x.id), [a.id]);
      const forSender = (await c.call('mia', 'GET', `/api/v1/status/${session.id}`)).json() as SessionStatus;
      assert.equal(forSender.kind, 'session');
      assert.equal(forSender.shards.length, 1, 'the sender sees what it sent (masked for the receiver)');
      const outsider = await c.call('lead', 'GET', `/api/v1/sessions/${session.id}`);
      assert.equal(outsider.statusCode, 200, 'lead holds the finance role, a participant');
      const stranger = await c.token('eve', ['engineering']);
      const res = await c.app.inject({ method: 'GET', url: `/api/v1/sessions/${session.id}`, headers: { authorization: `Bearer ${stranger}` } });
      assert.equal(res.statusCode, 403);
      const badParticipant = await c.call('mia', 'POST', '/api/v1/sessions', { participants: ['pirates'], scope: 'x' });
      assert.equal(badParticipant.statusCode, 422);
    });
  });
}

describe('approvals for a role spread over its equally placed members', () => {
  let c: MeshTestController;
  before(async () => {
    c = await startMeshController('sqlite');
    // ben sits where ana does (finance, reporting to lead): both are the role's lowest members.
    const ana = (await c.services.directory.get('ana'))!;
    await c.services.directory.upsert([{ ...ana, id: 'ben', name: 'Ben', email: null }]);
    await registerAgent(c, 'ana', 'ana-goose');
    await registerAgent(c, 'ben', 'ben-goose');
    await registerAgent(c, 'lead', 'lead-goose');
  });
  after(() => c.close());

  it('sends them to both, never to the member higher up, each with its chain', async () => {
    const approvers = new Map<string, number>();
    for (let i = 0; i < 24; i++) {
      const res = await c.call('mia', 'POST', '/api/v1/approvals', { stepId: `s${i}`, approverRole: 'finance', payload: { i }, deadlineSeconds: 600 });
      assert.equal(res.statusCode, 201, res.body);
      const a = res.json() as ApprovalStatus;
      assert.deepEqual(a.chain, [a.approver, 'lead', 'cfo']);
      approvers.set(a.approver, (approvers.get(a.approver) ?? 0) + 1);
    }
    assert.deepEqual([...approvers.keys()].sort(), ['ana', 'ben'], `approvers: ${JSON.stringify([...approvers])}`);
  });
});
