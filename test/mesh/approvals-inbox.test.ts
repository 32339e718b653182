/**
 * GET /api/v1/approvals/inbox: the approvals the signed-in viewer may decide, each payload as
 * the redaction boundary masked it under the VIEWER's role policy — marketing may read PERSON
 * (detect only), finance may not — and deciding straight from the inbox.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BACKENDS, registerAgent, startMeshController, type MeshTestController } from './support.js';
import type { ApprovalInboxItem } from '../../mesh/contracts.js';

const PAYLOAD = { campaign: 'Q3 spring', budgetUsd: 12000, note: 'target list from Maria Schmidt (maria.schmidt@posteo.de)' };

for (const backend of BACKENDS) {
  describe(`approvals inbox on ${backend}`, () => {
    let c: MeshTestController;
    before(async () => {
      c = await startMeshController(backend);
      await registerAgent(c, 'ana', 'ana-goose');
      await registerAgent(c, 'mia', 'mia-goose');
    });
    after(() => c.close());

    const inbox = async (who: string) => {
      const res = await c.call(who, 'GET', '/api/v1/approvals/inbox');
      assert.equal(res.statusCode, 200, res.body);
      return res.json().approvals as ApprovalInboxItem[];
    };

    it('shows each approver their own pending requests, masked under their role policy, and drops decided ones', async () => {
      // Marketing asks finance (→ ana); finance asks a marketing person (→ mia). Same payload.
      const toFinance = await c.call('mia', 'POST', '/api/v1/approvals', { stepId: 'budget', approverRole: 'finance', payload: PAYLOAD, deadlineSeconds: 600 });
      assert.equal(toFinance.statusCode, 201, toFinance.body);
      const toMarketing = await c.call('ana', 'POST', '/api/v1/approvals', { stepId: 'copy-review', approver: 'mia', payload: PAYLOAD, deadlineSeconds: 600 });
      assert.equal(toMarketing.statusCode, 201, toMarketing.body);
      const financeId = toFinance.json().id as string;
      const marketingId = toMarketing.json().id as string;

      const ana = await inbox('ana');
      assert.deepEqual(ana.map((a) => a.id), [financeId], 'only what ana may decide');
      const a = ana[0]!;
      assert.deepEqual([a.approver, a.requester, a.state, a.stepId], ['ana', 'mia', 'requested', 'budget']);
      assert.equal(a.payloadHash, toFinance.json().payloadHash);
      assert.ok(!a.payload.includes('Maria Schmidt'), 'finance masks PERSON');
      assert.ok(!a.payload.includes('maria.schmidt@posteo.de'), 'finance masks EMAIL');
      assert.ok(a.payload.includes('12000'));
      assert.ok(a.redactions.some((r) => r.class === 'PERSON' && r.count >= 1), JSON.stringify(a.redactions));

      const mia = await inbox('mia');
      assert.deepEqual(mia.map((m) => m.id), [marketingId]);
      assert.ok(mia[0]!.payload.includes('Maria Schmidt'), 'marketing may read PERSON (detect only)');
      assert.ok(!mia[0]!.payload.includes('maria.schmidt@posteo.de'), 'marketing still masks EMAIL');
      assert.ok(!mia[0]!.redactions.some((r) => r.class === 'PERSON'));

      assert.deepEqual(await inbox('lead'), [], 'a finance colleague who is not the approver sees nothing to decide');

      // Decide from the inbox, quoting its payloadHash: it leaves the inbox.
      const decided = await c.call('ana', 'POST', `/api/v1/approvals/${a.id}/decision`, { decision: 'approved', payloadHash: a.payloadHash });
      assert.equal(decided.statusCode, 200, decided.body);
      assert.deepEqual(await inbox('ana'), []);
      assert.equal((await c.app.inject({ method: 'GET', url: '/api/v1/approvals/inbox' })).statusCode, 401);
    });
  });
}
