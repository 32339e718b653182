/**
 * The agent side's HTTP client for the controller's mesh API (bearer token, JSON, an
 * Idempotency-Key on every write). Used by the mesh MCP server and by agent workers.
 */
import { randomUUID } from 'node:crypto';
import {
  IDEMPOTENCY_HEADER,
  type AgentRegistered,
  type AgentRegistration,
  type ApprovalCreate,
  type ApprovalDecision,
  type ApprovalStatus,
  type MeshStatus,
  type NotifyAccepted,
  type NotifyRequest,
  type RouteAccepted,
  type RouteRequest,
  type TaskProgress,
  type TaskResult,
  type TaskStatus,
  type WorkBatch,
} from './contracts.js';

/** The controller answered with an error; `message` is the controller's explanation. */
export class MeshClientError extends Error {
  override name = 'MeshClientError';
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export interface MeshClientOptions {
  url: string;
  token: () => string | Promise<string>;
  /** Per-request timeout (long-polls add their wait). */
  timeoutMs?: number;
}

export class MeshClient {
  readonly url: string;

  constructor(private readonly opts: MeshClientOptions) {
    this.url = opts.url.replace(/\/+$/, '');
  }

  register(r: AgentRegistration): Promise<AgentRegistered> {
    return this.write('POST', '/api/v1/agents', r);
  }
  heartbeat(agentId: string, load?: number): Promise<{ ok: boolean }> {
    return this.write('POST', `/api/v1/agents/${enc(agentId)}/heartbeat`, load === undefined ? {} : { load });
  }
  /** Long-poll for work; `signal` ends the wait early (the controller then keeps the items queued). */
  poll(agentId: string, waitMs = 25_000, max = 1, signal?: AbortSignal): Promise<WorkBatch> {
    return this.request('GET', `/api/v1/agents/${enc(agentId)}/work?waitMs=${waitMs}&max=${max}`, undefined, undefined, waitMs, signal);
  }
  progress(taskId: string, p: TaskProgress): Promise<TaskStatus> {
    return this.write('POST', `/api/v1/tasks/${enc(taskId)}/progress`, p);
  }
  result(taskId: string, r: TaskResult): Promise<TaskStatus> {
    return this.write('POST', `/api/v1/tasks/${enc(taskId)}/result`, r);
  }
  ack(deliveryId: string, leaseId: string): Promise<{ ok: boolean }> {
    return this.write('POST', `/api/v1/deliveries/${enc(deliveryId)}/ack`, { leaseId });
  }
  route(r: RouteRequest): Promise<RouteAccepted> {
    return this.write('POST', '/api/v1/tasks/route', r);
  }
  cancel(taskId: string): Promise<TaskStatus> {
    return this.write('POST', `/api/v1/tasks/${enc(taskId)}/cancel`, undefined);
  }
  requestApproval(a: ApprovalCreate): Promise<ApprovalStatus> {
    return this.write('POST', '/api/v1/approvals', a);
  }
  approval(approvalId: string): Promise<ApprovalStatus> {
    return this.request('GET', `/api/v1/approvals/${enc(approvalId)}`);
  }
  withdraw(approvalId: string): Promise<ApprovalStatus> {
    return this.write('POST', `/api/v1/approvals/${enc(approvalId)}/withdraw`, undefined);
  }
  decide(approvalId: string, d: ApprovalDecision): Promise<ApprovalStatus> {
    return this.write('POST', `/api/v1/approvals/${enc(approvalId)}/decision`, d);
  }
  notify(n: NotifyRequest): Promise<NotifyAccepted> {
    return this.write('POST', '/api/v1/notifications', n);
  }
  status(id: string): Promise<MeshStatus> {
    return this.request('GET', `/api/v1/status/${enc(id)}`);
  }

  private write<T>(method: 'POST' | 'PATCH', path: string, body: unknown, idempotencyKey = randomUUID()): Promise<T> {
    return this.request(method, path, body, idempotencyKey);
  }

  private async request<T>(method: string, path: string, body?: unknown, idempotencyKey?: string, extraMs = 0, signal?: AbortSignal): Promise<T> {
    const token = await this.opts.token();
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey) headers[IDEMPOTENCY_HEADER] = idempotencyKey;
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: signal ? AbortSignal.any([signal, AbortSignal.timeout((this.opts.timeoutMs ?? 15_000) + extraMs)]) : AbortSignal.timeout((this.opts.timeoutMs ?? 15_000) + extraMs),
      });
    } catch (err) {
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('aborted');
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new MeshClientError(0, `cannot reach the Switchboard controller at ${this.url} (${cause})`);
    }
    const text = await res.text();
    if (!res.ok) {
      let message = text.slice(0, 500);
      try {
        message = (JSON.parse(text) as { message?: string }).message ?? message;
      } catch {
        // not JSON: keep the text
      }
      throw new MeshClientError(res.status, message);
    }
    return JSON.parse(text) as T;
  }
}

function enc(s: string): string {
  return encodeURIComponent(s);
}
