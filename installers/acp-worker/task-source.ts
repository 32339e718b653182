/**
 * Where the ACP worker gets its tasks and reports back. `TaskSource` is the seam: the worker
 * knows nothing of HTTP; `MeshTaskSource` speaks the controller's Agent Mesh API
 * (docs/agent-mesh.md) through the shared client in mesh/client.ts: register + heartbeat,
 * long-poll for work, progress/result under the delivery's lease, approvals.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { MeshClientError, type MeshClient } from '../../mesh/client.js';
import type { WorkItem } from '../../mesh/contracts.js';

export interface WorkTask {
  taskId: string;
  /** Fences progress/result to this delivery (a lease that ran out was handed to someone else). */
  leaseId: string;
  /** When the lease runs out without progress (ms since the epoch); the worker reports before then. */
  leaseExpiresAt?: number;
  title: string;
  text: string;
  /** Session the task belongs to (approvals are raised in it). */
  contextId?: string;
  /** Context shared with this agent, already masked for its role. */
  context?: string;
  attempt: number;
}

export type ProgressState = 'working' | 'input-required';
export type ResultState = 'completed' | 'failed' | 'rejected';
export type ApprovalOutcome = 'approved' | 'denied' | 'expired' | 'withdrawn';

export interface ApprovalRequest {
  stepId: string;
  /** What is being approved (the tool call), bound to the approval by its hash at the controller. */
  payload: Record<string, unknown>;
  deadlineSeconds: number;
}

/** The task is no longer this worker's: it was canceled, or its lease ran out and went to another worker. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

export interface TaskSource {
  /** Waits for work (or returns empty when `signal` aborts or the wait times out). */
  next(signal: AbortSignal): Promise<WorkTask[]>;
  /** Reports progress and extends the lease; throws LeaseLostError when the task is no longer held. */
  progress(task: WorkTask, state: ProgressState, message: string): Promise<void>;
  result(task: WorkTask, state: ResultState, message: string, artifacts: Array<{ name: string; text: string }>): Promise<void>;
  requestApproval(task: WorkTask, request: ApprovalRequest): Promise<{ approvalId: string }>;
  /** Resolves once the approval is decided or expired; a decision never comes back as pending. */
  waitForApproval(approvalId: string, signal: AbortSignal): Promise<ApprovalOutcome>;
  /** Withdraws an approval nobody needs any more (the turn was cancelled). Optional. */
  withdrawApproval?(approvalId: string): Promise<void>;
  /** Tasks in hand changed (for the load the agent reports). Optional. */
  setLoad?(load: number): void;
}

export interface MeshTaskSourceOptions {
  client: MeshClient;
  agentId: string;
  role: string;
  skills?: string[];
  /**
   * Who approves tool calls the policy does not allow outright: "manager" (the agent's person's
   * manager, from the directory), a person id, or `role:<role>` for any member of a role.
   */
  approver?: string;
  /** How long one long-poll waits (ms, ≤ 60000). */
  waitMs?: number;
  approvalPollMs?: number;
  log?: (line: string) => void;
}

export function taskFromWorkItem(item: WorkItem): WorkTask | undefined {
  if (item.kind !== 'task' || !item.taskId) return undefined;
  const expires = Date.parse(item.leaseExpiresAt);
  return {
    taskId: item.taskId,
    leaseId: item.leaseId,
    ...(Number.isFinite(expires) ? { leaseExpiresAt: expires } : {}),
    title: item.task?.title ?? 'task',
    text: item.task?.text ?? '',
    attempt: item.attempt ?? 1,
    ...(item.contextId ? { contextId: item.contextId } : {}),
    ...(item.context ? { context: item.context } : {}),
  };
}

/** 404/409 on a task write: the controller no longer counts this worker as the task's holder. */
function leaseLost(err: unknown, taskId: string): never {
  if (err instanceof MeshClientError && (err.status === 409 || err.status === 404)) throw new LeaseLostError(`task ${taskId}: ${err.message}`);
  throw err;
}

export class MeshTaskSource implements TaskSource {
  private heartbeat: NodeJS.Timeout | undefined;
  private load = 0;

  constructor(private readonly opts: MeshTaskSourceOptions) {}

  /** Registers the agent (capacity 1: it runs one task at a time) and keeps it online with heartbeats. */
  async start(): Promise<void> {
    const { client, agentId, role } = this.opts;
    const reg = await client.register({ agentId, role, skills: this.opts.skills ?? [], load: this.load, capacity: 1 });
    this.heartbeat = setInterval(() => {
      client.heartbeat(agentId, this.load).catch((err: Error) => this.opts.log?.(`heartbeat failed: ${err.message}`));
    }, reg.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  stop(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
  }

  setLoad(load: number): void {
    this.load = load;
  }

  async next(signal: AbortSignal): Promise<WorkTask[]> {
    const waitMs = this.opts.waitMs ?? 25_000;
    let items: WorkItem[];
    try {
      ({ items } = await this.opts.client.poll(this.opts.agentId, waitMs, 1, signal));
    } catch (err) {
      if (signal.aborted) return [];
      throw err;
    }
    const tasks: WorkTask[] = [];
    for (const item of items) {
      const task = taskFromWorkItem(item);
      if (task) {
        tasks.push(task);
        continue;
      }
      // Approvals are decided by a person, notifications are for reading: this worker only says so.
      this.opts.log?.(item.kind === 'approval' ? `approval ${item.approvalId} waits for your decision (POST /api/v1/approvals/${item.approvalId}/decision with its payloadHash)` : `notification: ${item.task?.text ?? item.task?.title ?? ''}`);
      await this.opts.client.ack(item.deliveryId, item.leaseId);
    }
    return tasks;
  }

  async progress(task: WorkTask, state: ProgressState, message: string): Promise<void> {
    await this.opts.client.progress(task.taskId, { leaseId: task.leaseId, state, message: message.slice(0, 2000) }).catch((err: unknown) => leaseLost(err, task.taskId));
  }

  async result(task: WorkTask, state: ResultState, message: string, artifacts: Array<{ name: string; text: string }>): Promise<void> {
    await this.opts.client.result(task.taskId, { leaseId: task.leaseId, state, message: message.slice(0, 2000), artifacts }).catch((err: unknown) => leaseLost(err, task.taskId));
  }

  async requestApproval(task: WorkTask, request: ApprovalRequest): Promise<{ approvalId: string }> {
    const approver = this.opts.approver ?? 'manager';
    const created = await this.opts.client.requestApproval({
      ...(task.contextId ? { sessionId: task.contextId } : {}),
      stepId: request.stepId,
      ...(approver.startsWith('role:') ? { approverRole: approver.slice('role:'.length) } : { approver }),
      payload: request.payload,
      deadlineSeconds: request.deadlineSeconds,
    });
    return { approvalId: created.id };
  }

  async withdrawApproval(approvalId: string): Promise<void> {
    await this.opts.client.withdraw(approvalId);
  }

  async waitForApproval(approvalId: string, signal: AbortSignal): Promise<ApprovalOutcome> {
    const every = this.opts.approvalPollMs ?? 2000;
    while (!signal.aborted) {
      try {
        const status = await this.opts.client.approval(approvalId);
        if (status.state !== 'requested') return status.state;
      } catch (err) {
        // A controller restart or a network blip must not turn into a decision: keep asking.
        if (err instanceof MeshClientError && err.status >= 400 && err.status < 500) throw err;
        this.opts.log?.(`approval ${approvalId}: ${(err as Error).message}; asking again`);
      }
      await delay(every, undefined, { signal }).catch(() => {});
    }
    return 'withdrawn';
  }
}
