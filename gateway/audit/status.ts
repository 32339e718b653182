/**
 * The state of a gateway's audit spool, read-only from gateway.db (the gateway may be running):
 * what waits to ship, what the controller refused (quarantined), recorded losses, the
 * shipper's last outcome and the spool's alerts. For `switchboard audit status`.
 */
import Database from 'better-sqlite3';
import { AUDIT_ACTIONS } from '../../audit/event.js';
import { AuditSourceError } from './sources.js';

export interface AuditStatus {
  chainId: string | null;
  events: number;
  headSeq: number;
  pending: number;
  quarantined: Array<{ seq: number; reason: string; at: string }>;
  /** Requests forwarded and not yet completed (in flight, or the gateway stopped). */
  awaiting: number;
  gaps: number;
  interrupted: number;
  shipping: { lastSuccessAt: string | null; lastError: string | null; lastErrorAt: string | null; failures: number } | null;
  alerts: Array<{ at: string; kind: string; message: string }>;
}

export function readAuditStatus(path: string, alertLimit = 20): AuditStatus {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new AuditSourceError(`${path}: cannot open as SQLite (${(err as Error).message})`);
  }
  try {
    const tables = new Set((db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name));
    if (!tables.has('audit_events')) throw new AuditSourceError(`${path}: no audit spool here (not a gateway.db, or the gateway has not run yet)`);
    const has = (t: string) => tables.has(t);
    const one = <T>(sql: string, ...args: unknown[]) => db.prepare(sql).get(...args) as T;
    const columns = new Set((db.prepare("SELECT name FROM pragma_table_info('audit_events')").all() as Array<{ name: string }>).map((c) => c.name));
    const counts = one<{ events: number; head: number | null; pending: number }>(
      'SELECT count(*) AS events, max(seq) AS head, coalesce(sum(shipped = 0), 0) AS pending FROM audit_events',
    );
    const byAction = (action: string) => one<{ n: number }>("SELECT count(*) AS n FROM audit_events WHERE json_extract(event, '$.action') = ?", action).n;
    const shipping = has('audit_shipping')
      ? one<{ last_success_at: string | null; last_error: string | null; last_error_at: string | null; failures: number } | undefined>('SELECT * FROM audit_shipping WHERE id = 1')
      : undefined;
    return {
      chainId: has('audit_chain') ? (one<{ chain_id: string } | undefined>('SELECT chain_id FROM audit_chain WHERE id = 1')?.chain_id ?? null) : null,
      events: counts.events,
      headSeq: counts.head ?? 0,
      pending: counts.pending,
      quarantined: has('audit_quarantine') ? (db.prepare('SELECT seq, reason, at FROM audit_quarantine ORDER BY seq').all() as AuditStatus['quarantined']) : [],
      awaiting: columns.has('awaiting') ? one<{ n: number }>('SELECT count(*) AS n FROM audit_events WHERE awaiting = 1').n : 0,
      gaps: byAction(AUDIT_ACTIONS.gap),
      interrupted: byAction(AUDIT_ACTIONS.interrupted),
      shipping: shipping
        ? { lastSuccessAt: shipping.last_success_at, lastError: shipping.last_error, lastErrorAt: shipping.last_error_at, failures: shipping.failures }
        : null,
      alerts: has('audit_alerts') ? (db.prepare('SELECT at, kind, message FROM audit_alerts ORDER BY id DESC LIMIT ?').all(alertLimit) as AuditStatus['alerts']) : [],
    };
  } finally {
    db.close();
  }
}

/** True when something needs a person's attention (exit code 1 of `audit status`). */
export function needsAttention(s: AuditStatus): boolean {
  return s.quarantined.length > 0 || s.gaps > 0 || (s.shipping?.failures ?? 0) > 0;
}
