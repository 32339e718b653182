/**
 * Where the ACP worker gets its tasks and reports back. `TaskSource` is the seam: the worker
 * knows nothing of HTTP; `MeshTaskSource` speaks the controller's Agent Mesh API (docs/agent-mesh.md:
 * register + heartbeat, long-poll work, progress/result with the lease, approvals).
 */

export interface WorkTask {
  taskId: string;
  /** Fences progress/result to this delivery (a lease that ran out was handed to someone else). */
  leaseId: string;
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

export interface TaskSource {
  /** Waits for work (or returns empty when `signal` aborts or the wait times out). */
  next(signal: AbortSignal): Promise<WorkTask[]>;
  progress(task: WorkTask, state: ProgressState, message: string): Promise<void>;
  result(task: WorkTask, state: ResultState, message: string, artifacts: Array<{ name: string; text: string }>): Promise<void>;
  requestApproval(task: WorkTask, request: ApprovalRequest): Promise<{ approvalId: string }>;
  /** Resolves once the approval is decided or expired; a decision never comes back as pending. */
  waitForApproval(approvalId: string, signal: AbortSignal): Promise<ApprovalOutcome>;
}

export class MeshApiError extends Error {
  override name = 'MeshApiError';
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

interface WorkItemWire {
  deliveryId: string;
  leaseId: string;
  kind: 'task' | 'approval' | 'notification';
  attempt?: number;
  contextId?: string | null;
  taskId?: string | null;
  approvalId?: string | null;
  task?: { title?: string; text?: string } | null;
  context?: string | null;
}

export interface MeshTaskSourceOptions {
  controllerUrl: string;
  token: () => Promise<string> | string;
  agentId: string;
  role: string;
  skills?: string[];
  /** How long one long-poll waits (ms, ≤ 60000). */
  waitMs?: number;
  approvalPollMs?: number;
  log?: (line: string) => void;
}

export class MeshTaskSource implements TaskSource {
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly opts: MeshTaskSourceOptions) {}

  private async call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
    const res = await fetch(`${this.opts.controllerUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${await this.opts.token()}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: signal ?? AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    if (!res.ok) {
      let message = text.slice(0, 300);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON
      }
      throw new MeshApiError(res.status, `${method} ${path}: HTTP ${res.status} ${message}`);
    }
    return (text ? JSON.parse(text) : {}) as T;
  }

  /** Registers the agent and keeps it online with heartbeats. */
  async start(): Promise<void> {
    const reg = await this.call<{ heartbeatIntervalMs?: number }>('POST', '/api/v1/agents', {
      agentId: this.opts.agentId,
      role: this.opts.role,
      skills: this.opts.skills ?? [],
      load: 0,
      capacity: 1,
    });
    const every = reg.heartbeatIntervalMs ?? 10_000;
    this.heartbeat = setInterval(() => {
      this.call('POST', `/api/v1/agents/${encodeURIComponent(this.opts.agentId)}/heartbeat`, { load: 0 }).catch((err: Error) => this.opts.log?.(`heartbeat failed: ${err.message}`));
    }, every);
    this.heartbeat.unref();
  }

  stop(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
  }

  async next(signal: AbortSignal): Promise<WorkTask[]> {
    const waitMs = this.opts.waitMs ?? 25_000;
    let items: WorkItemWire[];
    try {
      ({ items } = await this.call<{ items: WorkItemWire[] }>('GET', `/api/v1/agents/${encodeURIComponent(this.opts.agentId)}/work?waitMs=${waitMs}&max=1`, undefined, AbortSignal.any([signal, AbortSignal.timeout(waitMs + 10_000)])));
    } catch (err) {
      if (signal.aborted) return [];
      throw err;
    }
    const tasks: WorkTask[] = [];
    for (const item of items) {
      if (item.kind === 'task' && item.taskId) {
        tasks.push({
          taskId: item.taskId,
          leaseId: item.leaseId,
          title: item.task?.title ?? 'task',
          text: item.task?.text ?? '',
          attempt: item.attempt ?? 1,
          ...(item.contextId ? { contextId: item.contextId } : {}),
          ...(item.context ? { context: item.context } : {}),
        });
      } else {
        // Approvals are decided by a person, notifications are for reading: this worker only says so.
        this.opts.log?.(item.kind === 'approval' ? `approval ${item.approvalId} waits for your decision (POST /api/v1/approvals/${item.approvalId}/decision)` : `notification: ${item.task?.text ?? ''}`);
        await this.call('POST', `/api/v1/deliveries/${encodeURIComponent(item.deliveryId)}/ack`, { leaseId: item.leaseId });
      }
    }
    return tasks;
  }

  async progress(task: WorkTask, state: ProgressState, message: string): Promise<void> {
    await this.call('POST', `/api/v1/tasks/${encodeURIComponent(task.taskId)}/progress`, { leaseId: task.leaseId, state, message: message.slice(0, 2000) });
  }

  async result(task: WorkTask, state: ResultState, message: string, artifacts: Array<{ name: string; text: string }>): Promise<void> {
    await this.call('POST', `/api/v1/tasks/${encodeURIComponent(task.taskId)}/result`, { leaseId: task.leaseId, state, message: message.slice(0, 2000), artifacts });
  }

  async requestApproval(task: WorkTask, request: ApprovalRequest): Promise<{ approvalId: string }> {
    const created = await this.call<{ id: string }>('POST', '/api/v1/approvals', {
      ...(task.contextId ? { sessionId: task.contextId } : {}),
      stepId: request.stepId,
      approver: 'manager',
      payload: request.payload,
      deadlineSeconds: request.deadlineSeconds,
    });
    return { approvalId: created.id };
  }

  async waitForApproval(approvalId: string, signal: AbortSignal): Promise<ApprovalOutcome> {
    const every = this.opts.approvalPollMs ?? 2000;
    while (!signal.aborted) {
      const status = await this.call<{ state: string }>('GET', `/api/v1/approvals/${encodeURIComponent(approvalId)}`);
      if (status.state === 'approved' || status.state === 'denied' || status.state === 'expired' || status.state === 'withdrawn') return status.state;
      await new Promise((r) => setTimeout(r, every));
    }
    return 'withdrawn';
  }
}
