/** The audit module's tables, added to the controller's typed schema by module augmentation. */
import type { EpochMs } from '../storage/schema.js';

export interface AuditEventRow {
  id: string;
  chain_id: string;
  seq: number;
  ts: EpochMs;
  tenant_id: string;
  actor_type: string;
  actor_id: string;
  actor_role: string | null;
  action: string;
  result: string;
  hash: string;
  /** The whole event as received (JSON), so exports reproduce it byte for byte. */
  event: string;
  received_at: EpochMs;
}

/** Where each gateway's chain stands, to check continuity of the next batch. */
export interface AuditChainRow {
  chain_id: string;
  tenant_id: string;
  head_seq: number;
  head_hash: string;
  /** Token subject that first wrote this chain; only it may extend the chain. */
  owner: string;
  updated_at: EpochMs;
}

/**
 * gap: seq numbers missing; lost: the gateway recorded an audit.gap (events it could not write);
 * refused: an event failed the schema at ingest (the gateway quarantines it).
 */
export type AuditAlertKind = 'gap' | 'fork' | 'broken-link' | 'tampered' | 'lost' | 'refused';

export interface AuditAlertRow {
  id: string;
  chain_id: string;
  kind: AuditAlertKind;
  seq: number;
  event_id: string;
  detail: string;
  created_at: EpochMs;
}

declare module '../storage/schema.js' {
  interface ControllerTables {
    audit_events: AuditEventRow;
    audit_chains: AuditChainRow;
    audit_alerts: AuditAlertRow;
  }
}
