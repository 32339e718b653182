/**
 * `switchboard agent` end to end over the REAL controller mesh HTTP API: a controller on SQLite
 * (port 0) with the sample org, the worker enrolled as the accountant (Finance, manager: cfo),
 * started in-process from bin/commands/agent.ts, running tasks through the ACP test agent
 * (written with @agentclientprotocol/sdk). A Marketing sender routes tasks with
 * POST /api/v1/tasks/route and follows them with GET /api/v1/status/{id}; the cfo decides the
 * approvals the worker raises. The lease is short (1.5 s) so a worker that did not renew it while
 * waiting for approvals would lose the task to a second delivery.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runController, type RunningController } from '../../controller/run.js';
import { importDirectory } from '../../controller/directory/import.js';
import { enrolGateway } from '../../gateway/bundles/enrolled-token.js';
import { sampleDirectoryFile } from '../../bin/commands/up.js';
import { startAgent, type RunningAgent } from '../../bin/commands/agent.js';
import { MeshClient } from '../../mesh/client.js';
import type { ApprovalStatus, TaskStatus } from '../../mesh/contracts.js';

const ACP_AGENT = `"${process.execPath}" --import tsx test/installers/acp-test-agent.ts`;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('switchboard agent against the real controller mesh API', () => {
  let controller: RunningController;
  let agent: RunningAgent;
  let sender: MeshClient;
  let cfo: MeshClient;
  let cfoToken: string;
  const dirs: string[] = [];
  const lines: string[] = [];

  before(async () => {
    const ctlDir = mkdtempSync(join(tmpdir(), 'sb-agent-ctl-'));
    const agentDir = mkdtempSync(join(tmpdir(), 'sb-agent-'));
    dirs.push(ctlDir, agentDir);
    controller = await runController({ dataDir: ctlDir, port: 0, logLevel: 'silent', mesh: { leaseMs: 1500, sweepMs: 200 } });
    const { services } = controller;
    await importDirectory(readFileSync(sampleDirectoryFile(), 'utf8'), 'yaml', 'sample.yaml', services.directory);
    const { code } = await services.enrolment.createCode({ subject: 'accountant', roles: ['finance'], ttlSeconds: 600, createdBy: 'test' });
    await enrolGateway(controller.url, code, agentDir);
    const token = async (subject: string, roles: string[]) => (await services.tokens.mintAccessToken({ subject, roles, authMethod: 'test' })).token;
    const senderToken = await token('marketer', ['marketing']);
    cfoToken = await token('cfo', ['finance']);
    sender = new MeshClient({ url: controller.url, token: () => senderToken });
    cfo = new MeshClient({ url: controller.url, token: () => cfoToken });
    agent = await startAgent(
      { dataDir: agentDir, acpCommand: ACP_AGENT, allowKinds: 'read,search,think', denyKinds: '', skills: 'payment-run', cwd: process.cwd() },
      (line) => lines.push(line),
      { waitMs: 1000, approvalPollMs: 100 },
    );
  });
  after(async () => {
    await agent?.stop();
    await controller?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const pendingForCfo = (taskSession: string, n: number) =>
    until(`${n} approvals at the cfo`, async () => {
      const res = await fetch(`${controller.url}/api/v1/approvals`, { headers: { authorization: `Bearer ${cfoToken}` } });
      const { approvals } = (await res.json()) as { approvals: ApprovalStatus[] };
      const mine = approvals.filter((a) => a.sessionId === taskSession && a.state === 'requested');
      return mine.length === n ? mine : undefined;
    });

  it('takes a routed task: prompt with masked context, two approvals open at once, lease kept, result completed', async () => {
    assert.equal(agent.agentId, 'accountant-goose');
    const routed = await sender.route({
      target: 'finance',
      task: { title: 'Prepare the payment run', text: 'Use ledger.csv' },
      context: 'Questions to max.marsh@posteo.de',
      policyHints: { skills: ['payment-run'] },
    });
    assert.deepEqual(routed.targets.map((t) => [t.agentId, t.online]), [['accountant-goose', true]], 'the router picked the registered worker');

    // The agent asks execute, read and delete at once: read is allowed by policy, the other two
    // are raised as approvals with the accountant's manager — both open at the same time.
    const open = await pendingForCfo(routed.contextId, 2);
    assert.deepEqual(open.map((a) => a.stepId).sort(), ['tool-del-1', 'tool-exec-1']);
    assert.ok(open.every((a) => a.requester === 'accountant' && a.approver === 'cfo'));
    const waiting = (await sender.status(routed.taskId)) as TaskStatus;
    assert.equal(waiting.state, 'input-required');

    // Longer than the 1.5 s lease: the worker must keep renewing it while it waits.
    await new Promise((r) => setTimeout(r, 2500));
    const stillOne = (await sender.status(routed.taskId)) as TaskStatus;
    assert.equal(stillOne.targets[0]!.attempts, 1, 'no second delivery: the lease was renewed');
    assert.equal(stillOne.state, 'input-required');

    const exec = open.find((a) => a.stepId === 'tool-exec-1')!;
    const del = open.find((a) => a.stepId === 'tool-del-1')!;
    assert.match(exec.payload, /Run payment export/);
    await cfo.decide(exec.id, { decision: 'approved', payloadHash: exec.payloadHash });
    await cfo.decide(del.id, { decision: 'denied', payloadHash: del.payloadHash });

    const done = await until('the task to complete', async () => {
      const s = (await sender.status(routed.taskId)) as TaskStatus;
      return s.state === 'input-required' || s.state === 'working' || s.state === 'submitted' ? undefined : s;
    });
    assert.equal(done.state, 'completed', JSON.stringify(done));
    const answer = done.targets[0]!.artifacts[0]!.text!;
    assert.match(answer, /Permissions execute:allow_once read:allow_once delete:reject_once\./);
    assert.match(answer, /Prompt: Prepare the payment run\n\nUse ledger\.csv\n\nContext shared with you:\n/);
    assert.match(answer, /Context shared with you:\nQuestions to \S+/);
    assert.ok(!answer.includes('max.marsh@posteo.de'), `the context reached the agent masked for Finance: ${answer}`);
    assert.equal(done.targets[0]!.attempts, 1);
    assert.match(done.targets[0]!.message ?? '', /finished: end_turn/);
  });

  it('a task canceled while it waits for approval is dropped (session/cancel, approvals withdrawn) and the worker takes the next', async () => {
    const routed = await sender.route({ target: 'accountant-goose', task: { title: 'Second run', text: 'Use ledger.csv' } });
    const open = await pendingForCfo(routed.contextId, 2);
    const canceled = await sender.cancel(routed.taskId);
    assert.equal(canceled.state, 'canceled');
    // The worker learns at its next lease renewal (409) and withdraws what it asked for.
    await until('the approvals to be withdrawn', async () => {
      const states = await Promise.all(open.map(async (a) => ((await cfo.approval(a.id)) as ApprovalStatus).state));
      return states.every((s) => s === 'withdrawn') ? states : undefined;
    });

    const next = await sender.route({ target: 'accountant-goose', task: { title: 'Third', text: 'please refuse' } });
    const s = await until('the refusal', async () => {
      const st = (await sender.status(next.taskId)) as TaskStatus;
      return st.state === 'rejected' || st.state === 'completed' || st.state === 'failed' ? st : undefined;
    });
    assert.equal(s.state, 'rejected', 'the refusal maps to rejected');
    assert.equal(((await sender.status(routed.taskId)) as TaskStatus).state, 'canceled', 'the canceled task stays canceled');
    assert.ok(lines.some((l) => l.includes(`task ${routed.taskId}: left to the controller`)), lines.join('\n'));
  });

  it('refuses, with one clear line, an ACP command that is not installed and a malformed --approver', async () => {
    const base = { dataDir: dirs[1]!, allowKinds: 'read', denyKinds: '', cwd: process.cwd() };
    await assert.rejects(startAgent({ ...base, acpCommand: 'no-such-acp-agent acp' }), (err: Error) => {
      assert.equal(err.name, 'CliError');
      assert.match(err.message, /cannot run the ACP agent "no-such-acp-agent": not found on PATH\. Install Goose/);
      return true;
    });
    await assert.rejects(startAgent({ ...base, acpCommand: ACP_AGENT, approver: 'a b' }), /--approver must be "manager", a person id or role:<role>/);
  });
});
