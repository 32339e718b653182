/**
 * The seed's example flow, end to end over real HTTP (docs/agent-mesh.md walks through it):
 *   1. Marketing's agent, through the mesh MCP tools, asks for approval of a campaign budget
 *      whose text carries customer PII (and sends Finance a review task).
 *   2. The router finds Finance; Finance's agent sees the context masked per Finance's policy.
 *   3. The approval deadline passes at Finance and at Finance's manager: it escalates twice;
 *      the next manager (the CFO) approves.
 *   4. Marketing's agent fetches the status and goes on.
 * Every step, with its cost, is in the audit chain, and the exported chain verifies.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { MeshClient } from '../../mesh/client.js';
import { createMeshMcpServer } from '../../mesh/mcp-server.js';
import { serveMeshMcpHttp, type MeshMcpHttp } from '../../mesh/mcp-http.js';
import { verifyChains } from '../../audit/verify-chain.js';
import type { AuditEvent } from '../../audit/event.js';
import type { ApprovalStatus, WorkItem } from '../../mesh/contracts.js';
import { startMeshController, type MeshTestController } from './support.js';

const BUDGET = {
  campaign: 'Spring loyalty push',
  budgetUsd: 18500,
  channels: ['email', 'paid social'],
  audienceNote: 'Seed list curated with our top customer Maria Schmidt (maria.schmidt@posteo.de, +49 30 901820).',
};

describe('example flow: Marketing asks Finance to approve a campaign budget', () => {
  let c: MeshTestController;
  let url: string;
  let mcp: MeshMcpHttp;
  let marketing: Client;
  const agents = new Map<string, MeshClient>();

  before(async () => {
    c = await startMeshController('sqlite', { sweepMs: 100 });
    url = await c.app.listen({ host: '127.0.0.1', port: 0 });
    // Each person's agent: its own token, registered over HTTP like a real worker.
    for (const [person, role, agentId, load] of [['mia', 'marketing', 'mia-goose', 0], ['ana', 'finance', 'ana-goose', 0], ['lead', 'finance', 'lead-goose', 2], ['cfo', 'finance', 'cfo-goose', 3]] as const) {
      const token = await c.token(person, person === 'cfo' ? ['finance', 'treasury'] : [role]);
      const client = new MeshClient({ url, token: () => token });
      await client.register({ agentId, role, load, skills: role === 'finance' ? ['budget-review'] : ['campaign-brief'] });
      agents.set(person, client);
    }
    const miaToken = await c.token('mia', ['marketing']);
    mcp = await serveMeshMcpHttp(() => createMeshMcpServer({ client: () => new MeshClient({ url, token: () => miaToken }), agentId: 'mia-goose', version: 'test' }));
    marketing = new Client({ name: 'goose-marketing', version: '1' });
    await marketing.connect(new StreamableHTTPClientTransport(new URL(mcp.url)));
  });
  after(async () => {
    await marketing.close();
    await mcp.close();
    await c.close();
  });

  it('runs the whole flow, leaves every step with its cost in the audit chain, and the chain verifies', async () => {
    // 1. Marketing's agent: a review task and an approval request, through the MCP tools.
    const review = await marketing.callTool({
      name: 'send_task',
      arguments: { target: 'finance', task: 'Review the spring campaign budget against the Q2 plan', context: JSON.stringify(BUDGET), policyHints: { skills: ['budget-review'] } },
    });
    assert.equal(review.isError, undefined, JSON.stringify(review));
    const { taskId, sessionId, targets } = review.structuredContent as { taskId: string; sessionId: string; targets: Array<{ agentId: string }> };
    assert.deepEqual(targets.map((t) => t.agentId), ['ana-goose'], 'the least loaded Finance agent');
    const asked = await marketing.callTool({ name: 'request_approval', arguments: { target: 'finance', sessionId, stepId: 'campaign-budget', payload: BUDGET, deadline: '1.5s' } });
    assert.equal(asked.isError, undefined, JSON.stringify(asked));
    const approval = asked.structuredContent as { approvalId: string; approver: string; status: string; payloadHash: string };
    assert.equal(approval.status, 'pending');
    assert.equal(approval.approver, 'ana', 'the router found Finance');

    // 2. Finance's agent receives both, masked under Finance's policy.
    const ana = agents.get('ana')!;
    const items: WorkItem[] = [];
    for (let i = 0; i < 10 && items.length < 2; i++) items.push(...(await ana.poll('ana-goose', 2_000, 5)).items);
    assert.deepEqual(items.map((i) => i.kind).sort(), ['approval', 'task']);
    const task = items.find((i) => i.kind === 'task')!;
    const ask = items.find((i) => i.kind === 'approval')!;
    for (const seen of [task.context!, ask.context!]) {
      assert.ok(!seen.includes('Maria Schmidt'), 'PERSON masked for finance');
      assert.ok(!seen.includes('maria.schmidt@posteo.de'), 'EMAIL masked for finance');
      assert.ok(!seen.includes('901820'), 'PHONE masked for finance');
      assert.ok(seen.includes('18500'), 'the budget itself is visible');
    }
    assert.equal(ask.payloadHash, approval.payloadHash);
    await ana.progress(task.taskId!, { leaseId: task.leaseId, state: 'working', message: 'comparing with the Q2 plan' });
    await ana.result(task.taskId!, { leaseId: task.leaseId, state: 'completed', message: 'within plan', cost: { tokens: 2310, usd: 0.0142 } });
    await ana.ack(ask.deliveryId, ask.leaseId); // seen, but Ana does not decide

    // 3. The deadline passes at Ana, then at her manager; the CFO gets it and approves.
    const waitFor = async (approver: string) => {
      for (let i = 0; i < 100; i++) {
        const s = (await agents.get('mia')!.status(approval.approvalId)) as ApprovalStatus;
        if (s.approver === approver) return s;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`approval never reached ${approver}`);
    };
    await waitFor('lead');
    const atCfo = await waitFor('cfo');
    assert.equal(atCfo.level, 2);
    const cfoItems = (await agents.get('cfo')!.poll('cfo-goose', 2_000, 5)).items.filter((i) => i.approvalId === approval.approvalId);
    assert.equal(cfoItems.length, 1, 'the CFO\'s agent was sent the request');
    const decided = await agents.get('cfo')!.decide(approval.approvalId, { decision: 'approved', payloadHash: cfoItems[0]!.payloadHash!, notes: 'approved within the annual plan' });
    assert.equal(decided.state, 'approved');

    // 4. Marketing's agent fetches the status and goes on.
    const status = await marketing.callTool({ name: 'fetch_status', arguments: { id: approval.approvalId } });
    assert.match(((status as CallToolResult).content[0] as { text: string }).text, /is approved\. Decided by cfo\./);
    const taskStatus = await marketing.callTool({ name: 'fetch_status', arguments: { id: taskId } });
    assert.match(((taskStatus as CallToolResult).content[0] as { text: string }).text, /is completed.*within plan/);
    const session = await marketing.callTool({ name: 'fetch_status', arguments: { id: sessionId } });
    assert.equal((session as CallToolResult).isError, true, 'the review task opened a context, not a session row');

    // Audit: every step, with its cost; no PII; the exported chain verifies.
    const admin = await c.token('auditor-1', ['auditor']);
    const exported = await fetch(`${url}/api/v1/audit/export?format=ndjson`, { headers: { authorization: `Bearer ${admin}` } });
    assert.equal(exported.status, 200);
    const body = await exported.text();
    const events = body.trim().split('\n').map((l) => JSON.parse(l) as AuditEvent);
    const steps = events.filter((e) => e.traceId === taskId || e.traceId === approval.approvalId).map((e) => `${e.action}:${e.actor.id}:${e.cost.tokens}`);
    assert.deepEqual(steps, [
      'mesh.route:mia-goose:0',
      'mesh.route:mia-goose:0',
      'mesh.approval.requested:mia:0',
      'mesh.task.completed:ana-goose:2310',
      'mesh.approval.escalated:lead:0',
      'mesh.approval.escalated:cfo:0',
      'mesh.approval.approved:cfo:0',
    ]);
    assert.ok(events.every((e) => typeof e.cost.usd === 'number'));
    for (const secret of ['Maria', 'posteo', '901820']) assert.ok(!body.includes(secret), `${secret} is not in the audit chain`);
    const report = verifyChains(events);
    assert.equal(report.ok, true, JSON.stringify(report.problems));
    assert.ok(report.chains.some((ch) => ch.chainId.startsWith('mesh-')));
  });
});
