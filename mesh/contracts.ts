/**
 * The Agent Mesh wire contract: what agents, the mesh MCP server and the controller say to each
 * other over HTTP. Neutral on purpose — the controller (server side) and mesh/ + bin/ (agent side)
 * both import it, neither imports the other. Shapes follow A2A where A2A has one (task states,
 * contextId / taskId / messageId). docs/agent-mesh.md is the prose version of this file.
 */

/** A2A task states (kebab-case as in A2A's JSON binding). */
export const TASK_STATES = ['submitted', 'working', 'input-required', 'completed', 'failed', 'canceled', 'rejected'] as const;
export type TaskState = (typeof TASK_STATES)[number];
export const TERMINAL_TASK_STATES: ReadonlySet<TaskState> = new Set(['completed', 'failed', 'canceled', 'rejected']);

export const APPROVAL_STATES = ['requested', 'approved', 'denied', 'expired', 'withdrawn'] as const;
export type ApprovalState = (typeof APPROVAL_STATES)[number];

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Header every write endpoint accepts; a repeat with the same key replays the first answer. */
export const IDEMPOTENCY_HEADER = 'idempotency-key';

/** Id prefixes: `GET /api/v1/status/{id}` dispatches on them. */
export const ID_PREFIX = { task: 'task-', context: 'ctx-', approval: 'apr-', delivery: 'dlv-', notification: 'ntf-' } as const;

export interface Cost {
  tokens: number;
  usd: number;
}

/** What the sender wants done. `text` is the instruction; `data` is structured input. */
export interface TaskSpec {
  title: string;
  text?: string;
  data?: Record<string, unknown>;
}

export interface PolicyHints {
  /** Only agents of this role. */
  role?: string;
  /** Prefer (and require, when no target is given) agents having these skills. */
  skills?: string[];
  /** Prefer agents with this locale (BCP 47, e.g. "de-DE"). */
  locale?: string;
  /** How many agents to fan out to (default 1). */
  fanout?: number;
  /** The data class the context carries (for Cedar rules on data.send), e.g. "EMAIL". */
  dataClass?: string;
}

// ---- agents ----------------------------------------------------------------------------------

export interface AgentRegistration {
  agentId: string;
  /** Person the agent works for; defaults to the token subject. */
  person?: string;
  /** Must be one of the token's roles. */
  role: string;
  skills?: string[];
  /** Tasks in hand right now. */
  load?: number;
  /** Tasks it takes at once (default 4). */
  capacity?: number;
  locale?: string;
}

export interface AgentRegistered {
  agentId: string;
  person: string;
  role: string;
  /** Send a heartbeat at least this often. */
  heartbeatIntervalMs: number;
  /** Without a heartbeat (or a work poll) for this long, the agent is offline. */
  offlineAfterMs: number;
}

export interface AgentView {
  agentId: string;
  person: string;
  role: string;
  skills: string[];
  load: number;
  capacity: number;
  locale: string | null;
  online: boolean;
  lastSeenAt: string;
}

/** A unit of work handed to an agent by long-poll or SSE. */
export type WorkKind = 'task' | 'approval' | 'notification';

export interface WorkItem {
  deliveryId: string;
  /** Present this with progress/result/ack; a stale lease is refused. */
  leaseId: string;
  leaseExpiresAt: string;
  /** 1 on first delivery; higher when a previous lease ran out (the earlier worker crashed). */
  attempt: number;
  kind: WorkKind;
  from: { agentId: string | null; person: string; role: string };
  contextId: string | null;
  taskId: string | null;
  approvalId: string | null;
  /** Task: the request. Approval: `{title: "approval", data: payload}`. Notification: the message. */
  task: TaskSpec;
  /** Context for the receiver, already through the Privacy Guard under the receiver's role policy. */
  context: string | null;
  /** What the guard masked for this receiver: class and count, never a value. */
  redactions: Array<{ class: string; count: number }>;
  /** Approvals: hash of the exact payload; a decision must quote it. */
  payloadHash?: string;
  deadline?: string;
  severity?: Severity;
}

export interface WorkBatch {
  items: WorkItem[];
}

export interface TaskProgress {
  leaseId: string;
  state: 'working' | 'input-required';
  message?: string;
}

export interface Artifact {
  name: string;
  text?: string;
  data?: Record<string, unknown>;
}

export interface TaskResult {
  leaseId: string;
  state: 'completed' | 'failed' | 'rejected';
  message?: string;
  artifacts?: Artifact[];
  /** What the work cost (LLM tokens and USD); recorded in the audit chain. */
  cost?: Cost;
}

// ---- routing -----------------------------------------------------------------------------------

export interface RouteRequest {
  /** A role ("finance"), a person id ("ana") or an agent id. Omit to route by policyHints.skills. */
  target?: string;
  task: TaskSpec;
  /** Free text the receiver needs; masked per the receiver's role before it leaves the controller. */
  context?: string;
  policyHints?: PolicyHints;
  /** A2A retry key: the same messageId from the same sender returns the same task. */
  messageId?: string;
  /** Session (A2A context) this task belongs to; a new one is made when absent. */
  contextId?: string;
  /** The sending agent (must be registered by the caller's token); default: the caller's agent if it has one. */
  fromAgent?: string;
}

export interface RouteTarget {
  agentId: string;
  person: string;
  role: string;
  online: boolean;
  deliveryId: string;
}

export interface RouteAccepted {
  taskId: string;
  contextId: string;
  state: TaskState;
  targets: RouteTarget[];
  policyVersion: string;
  /** True when this messageId was seen before and the earlier task is returned. */
  duplicate: boolean;
}

export interface TaskTargetStatus {
  agentId: string;
  role: string;
  state: TaskState;
  message: string | null;
  artifacts: Artifact[];
  attempts: number;
}

export interface TaskStatus {
  kind: 'task';
  id: string;
  contextId: string;
  state: TaskState;
  title: string;
  from: { agentId: string | null; person: string; role: string };
  targets: TaskTargetStatus[];
  createdAt: string;
  updatedAt: string;
}

/** One entry of GET /api/v1/approvals/inbox: a request the viewer may decide now. */
export interface ApprovalInboxItem {
  id: string;
  sessionId: string;
  stepId: string;
  requester: string;
  /** The viewer: only the current approver may decide. */
  approver: string;
  state: 'requested';
  deadline: string;
  createdAt: string;
  /** Quote it in the decision (POST /api/v1/approvals/{id}/decision). */
  payloadHash: string;
  /** The payload masked by the Privacy Guard under the viewer's role policy. */
  payload: string;
  /** Classes masked out of `payload` for this viewer, with counts (never values). */
  redactions: Array<{ class: string; count: number }>;
}

// ---- sessions and hand-offs -------------------------------------------------------------------------

export interface SessionCreate {
  /** Roles, persons or agent ids taking part (the caller is added). */
  participants: string[];
  scope: string;
}

export interface HandoffRequest {
  /** Role, person or agent id that takes over. */
  to: string;
  task: TaskSpec;
  context?: string;
  stepId?: string;
  messageId?: string;
}

export interface ContextShard {
  id: string;
  fromRole: string;
  /** The role this shard was masked for; only that role (and the sender) sees it. */
  audienceRole: string;
  text: string;
  redactions: Array<{ class: string; count: number }>;
  createdAt: string;
}

export interface SessionStatus {
  kind: 'session';
  id: string;
  scope: string;
  state: 'active' | 'completed';
  createdBy: string;
  participants: string[];
  tasks: Array<{ id: string; title: string; state: TaskState; targets: string[] }>;
  approvals: Array<{ id: string; stepId: string; state: ApprovalState; approver: string }>;
  /** Only the shards the caller may see. */
  shards: ContextShard[];
  createdAt: string;
  updatedAt: string;
}

// ---- approvals -------------------------------------------------------------------------------------

export interface ApprovalCreate {
  sessionId?: string;
  stepId: string;
  /** One of: approverRole, approver (a person id, or "manager" for the requester's manager), target (role, person or agent id). */
  approverRole?: string;
  approver?: string;
  target?: string;
  payload: Record<string, unknown> | string;
  /** ISO date-time; or deadlineSeconds from now. Default 1 hour. Each escalation gets the same window again. */
  deadline?: string;
  deadlineSeconds?: number;
}

export interface ApprovalDecision {
  decision: 'approved' | 'denied';
  /** The payloadHash the approver was shown; a decision on another payload is refused. */
  payloadHash: string;
  notes?: string;
}

export interface ApprovalStatus {
  kind: 'approval';
  id: string;
  sessionId: string;
  stepId: string;
  state: ApprovalState;
  requester: string;
  /** Current approver (person id). */
  approver: string;
  /** 0 for the first approver, 1 after one escalation, … */
  level: number;
  /** Approvers in order: first approver, then their manager chain. */
  chain: string[];
  payloadHash: string;
  /** The payload as the caller may see it (masked under the caller's role policy). */
  payload: string;
  deadline: string;
  decidedBy: string | null;
  notes: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NotifyRequest {
  target: string;
  message: string;
  severity?: Severity;
  contextId?: string;
}

export interface NotifyAccepted {
  notificationId: string;
  delivered: number;
  recipients: string[];
}

export type MeshStatus = TaskStatus | SessionStatus | ApprovalStatus;
