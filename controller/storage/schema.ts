/**
 * Row types of every controller table, as Kysely sees them. One interface for both SQLite and
 * PostgreSQL: columns use only text, integer and bigint (epoch milliseconds), so one query layer
 * serves both. Other modules add their tables by module augmentation (see controller/README.md):
 *
 *   declare module '../storage/schema.js' { interface ControllerTables { audit_events: AuditEventRow } }
 */
/** Milliseconds since the Unix epoch (bigint in PostgreSQL, parsed to number). */
export type EpochMs = number;

export type DirectoryNodeKind = 'org' | 'department' | 'team' | 'person' | 'role';

export interface DirectoryNodeRow {
  id: string;
  kind: DirectoryNodeKind;
  name: string;
  /** Containing node: team → department → org; person → team or department. */
  parent_id: string | null;
  email: string | null;
  /** JSON object of free-form attributes (cost centre, location, clearance ...). */
  attributes: string;
  created_at: EpochMs;
  updated_at: EpochMs;
}

/** `manager`: person → their manager; `role`: person → role node. */
export type DirectoryEdgeKind = 'manager' | 'role';

export interface DirectoryEdgeRow {
  from_id: string;
  kind: DirectoryEdgeKind;
  to_id: string;
}

export interface EnrolmentCodeRow {
  /** SHA-256 (hex) of the code; the code itself is shown once and never stored. */
  code_hash: string;
  subject: string;
  /** JSON array of role names granted to whoever redeems the code. */
  roles: string;
  created_by: string;
  created_at: EpochMs;
  expires_at: EpochMs;
  used_at: EpochMs | null;
}

export interface RefreshTokenRow {
  /** SHA-256 (hex) of the refresh token. */
  token_hash: string;
  /** All tokens rotated from one enrolment share a family; reuse of a spent token revokes it. */
  family_id: string;
  subject: string;
  roles: string;
  created_at: EpochMs;
  expires_at: EpochMs;
  used_at: EpochMs | null;
  revoked_at: EpochMs | null;
}

/** One row (id 1): moved by every directory write, read by the node caches (controller/directory/repository.ts). */
export interface DirectoryVersionRow {
  id: number;
  version: number | string;
}

export interface ControllerTables {
  directory_nodes: DirectoryNodeRow;
  directory_edges: DirectoryEdgeRow;
  directory_version: DirectoryVersionRow;
  enrolment_codes: EnrolmentCodeRow;
  refresh_tokens: RefreshTokenRow;
}
