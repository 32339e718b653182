/**
 * The ACP task worker against a real ACP agent process written with the same SDK: initialize,
 * session, prompt, streamed updates as progress, permissions per policy with approvals, three
 * concurrent permission requests answered without a deadlock, results reported to the source.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { kindPolicy, runTaskWithAcp } from '../../installers/acp-worker/acp-worker.js';
import type { ApprovalOutcome, ApprovalRequest, ProgressState, ResultState, TaskSource, WorkTask } from '../../installers/acp-worker/task-source.js';

const AGENT = [process.execPath, '--import', 'tsx', 'test/installers/acp-test-agent.ts'];

/** A task source held in memory; approvals are decided by a rule the test gives. */
class TestTaskSource implements TaskSource {
  progressLog: Array<{ state: ProgressState; message: string }> = [];
  results: Array<{ state: ResultState; message: string; artifacts: Array<{ name: string; text: string }> }> = [];
  approvals: Array<{ id: string; request: ApprovalRequest }> = [];
  private waiters: Array<() => void> = [];

  constructor(private readonly decide: (request: ApprovalRequest, source: TestTaskSource) => Promise<ApprovalOutcome>) {}

  async next(): Promise<WorkTask[]> {
    return [];
  }
  async progress(_task: WorkTask, state: ProgressState, message: string): Promise<void> {
    this.progressLog.push({ state, message });
    for (const w of this.waiters.splice(0)) w();
  }
  async result(_task: WorkTask, state: ResultState, message: string, artifacts: Array<{ name: string; text: string }>): Promise<void> {
    this.results.push({ state, message, artifacts });
  }
  async requestApproval(_task: WorkTask, request: ApprovalRequest): Promise<{ approvalId: string }> {
    const id = `apr-${this.approvals.length + 1}`;
    this.approvals.push({ id, request });
    return { approvalId: id };
  }
  async waitForApproval(approvalId: string): Promise<ApprovalOutcome> {
    return this.decide(this.approvals.find((a) => a.id === approvalId)!.request, this);
  }
  /** Resolves once a progress message matches. */
  async progressMatching(re: RegExp): Promise<void> {
    while (!this.progressLog.some((p) => re.test(p.message))) await new Promise<void>((r) => this.waiters.push(r));
  }
}

const task: WorkTask = { taskId: 'task-1', leaseId: 'lease-1', title: 'Prepare the payment run', text: 'Use ledger.csv', attempt: 1, contextId: 'ctx-1' };

describe('ACP task worker', () => {
  it('runs a task end to end; concurrent permission requests do not deadlock; approvals decide allow/reject', async () => {
    const source = new TestTaskSource(async (request, src) => {
      if (request.payload.kind === 'execute') {
        // Decided only after the read permission (asked later, allowed by policy) was answered:
        // a worker that handled permission requests one at a time would hang here.
        await src.progressMatching(/tool read-1: completed/);
        return 'approved';
      }
      return 'denied';
    });
    const outcome = await runTaskWithAcp(task, { command: AGENT, cwd: process.cwd(), source, policy: kindPolicy() });
    assert.equal(outcome.state, 'completed');
    assert.equal(outcome.stopReason, 'end_turn');
    assert.match(outcome.text, /Permissions execute:allow_once read:allow_once delete:reject_once\./);
    assert.ok(!outcome.permissions.some((p) => p.includes('allow_always')), 'never allow_always when headless');
    assert.equal(outcome.permissions.indexOf('read-1:allow_once') < outcome.permissions.indexOf('exec-1:allow_once'), true, 'read answered while execute waited');
    assert.deepEqual(source.approvals.map((a) => [a.request.stepId, a.request.payload.kind]).sort(), [['tool-del-1', 'delete'], ['tool-exec-1', 'execute']]);
    assert.ok(source.progressLog.some((p) => p.state === 'input-required' && /waiting for approval: Run payment export/.test(p.message)));
    assert.ok(source.progressLog.some((p) => /tool: Read ledger\.csv \(read\)/.test(p.message)));
    assert.equal(source.results.length, 1);
    assert.equal(source.results[0]!.state, 'completed');
    assert.match(source.results[0]!.artifacts[0]!.text, /^Working\. Permissions .*\. Prompt: Prepare the payment run\n\nUse ledger\.csv$/);
  });

  it('a refusal becomes a rejected task; a policy deny never asks; a missing agent fails the task cleanly', async () => {
    const refusing = new TestTaskSource(async () => 'approved');
    const refused = await runTaskWithAcp({ ...task, text: 'please refuse' }, { command: AGENT, cwd: process.cwd(), source: refusing, policy: kindPolicy() });
    assert.equal(refused.state, 'rejected');
    assert.equal(refusing.results[0]!.state, 'rejected');

    const strict = new TestTaskSource(async () => 'approved');
    const denied = await runTaskWithAcp(task, { command: AGENT, cwd: process.cwd(), source: strict, policy: kindPolicy(['read'], ['execute', 'delete']) });
    assert.match(denied.text, /execute:reject_once read:allow_once delete:reject_once/);
    assert.equal(strict.approvals.length, 0);

    const missing = new TestTaskSource(async () => 'approved');
    const failed = await runTaskWithAcp(task, { command: ['/nonexistent/acp-agent'], cwd: process.cwd(), source: missing, policy: kindPolicy() });
    assert.equal(failed.state, 'failed');
    assert.match(missing.results[0]!.message, /ACP agent failed: spawn \/nonexistent\/acp-agent ENOENT/);
  });
});
