/** Row types of the mesh tables (controller/mesh/migrations.ts), added to the typed schema. */
import type { EpochMs } from '../storage/schema.js';

export interface MeshAgentRow {
  agent_id: string;
  /** Token subject that registered the agent; only it may act as this agent. */
  owner: string;
  person: string;
  role: string;
  /** JSON array of skill ids. */
  skills: string;
  load: number;
  capacity: number;
  locale: string | null;
  last_seen: EpochMs;
  registered_at: EpochMs;
}

export interface MeshTaskRow {
  id: string;
  context_id: string;
  message_id: string | null;
  from_subject: string;
  from_agent: string | null;
  from_role: string;
  title: string;
  state: string;
  created_at: EpochMs;
  updated_at: EpochMs;
}

export type DeliveryState = 'queued' | 'leased' | 'done' | 'dead' | 'canceled';

export interface MeshDeliveryRow {
  id: string;
  kind: string;
  agent_id: string;
  task_id: string | null;
  approval_id: string | null;
  /** JSON of the WorkItem without its lease fields (already masked for the receiver). */
  payload: string;
  state: DeliveryState;
  attempts: number;
  lease_id: string | null;
  lease_until: EpochMs | null;
  available_at: EpochMs;
  result_state: string | null;
  /** JSON {message, artifacts, cost} reported by the agent. */
  result: string | null;
  created_at: EpochMs;
  updated_at: EpochMs;
}

export interface MeshSessionRow {
  id: string;
  scope: string;
  created_by: string;
  /** JSON array of targets (roles, persons, agent ids) plus the creator. */
  participants: string;
  state: string;
  created_at: EpochMs;
  updated_at: EpochMs;
}

export interface MeshShardRow {
  id: string;
  session_id: string;
  from_subject: string;
  from_role: string;
  audience_role: string;
  text: string;
  redactions: string;
  created_at: EpochMs;
}

export interface MeshApprovalRow {
  id: string;
  session_id: string;
  step_id: string;
  requester: string;
  requester_role: string;
  /** JSON array of person ids: first approver, then their manager chain. */
  chain: string;
  /** JSON {personId: {text, redactions}}: the payload masked for each possible viewer; never the clear payload. */
  views: string;
  state: string;
  level: number;
  approver: string;
  payload_hash: string;
  window_ms: number;
  deadline: EpochMs;
  decided_by: string | null;
  notes: string | null;
  created_at: EpochMs;
  updated_at: EpochMs;
}

export interface MeshIdempotencyRow {
  subject: string;
  key: string;
  /** method + url + SHA-256 of the body: a key reused for another request is refused. */
  fingerprint: string;
  /** Null while the first request is still running. */
  status: number | null;
  body: string | null;
  created_at: EpochMs;
}

declare module '../storage/schema.js' {
  interface ControllerTables {
    mesh_agents: MeshAgentRow;
    mesh_tasks: MeshTaskRow;
    mesh_deliveries: MeshDeliveryRow;
    mesh_sessions: MeshSessionRow;
    mesh_shards: MeshShardRow;
    mesh_approvals: MeshApprovalRow;
    mesh_idempotency: MeshIdempotencyRow;
  }
}
