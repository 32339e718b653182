/**
 * Reads audit events from wherever they are kept, for `switchboard audit verify/export`:
 * a gateway's spool (gateway.db), a controller's SQLite database, or an export file (ndjson
 * or CSV). Databases are opened read-only; the file is never changed.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { AuditEvent } from './event.js';
import { parseExport } from './export-format.js';

export type AuditSourceKind = 'gateway-spool' | 'controller-db' | 'ndjson' | 'csv';

export interface AuditSource {
  kind: AuditSourceKind;
  events: AuditEvent[];
  /** Rows or lines that could not be read as events (counted as tampering by verify). */
  unreadable: Array<{ where: string; message: string }>;
}

export class AuditSourceError extends Error {
  override name = 'AuditSourceError';
}

const SQLITE_MAGIC = 'SQLite format 3\u0000';

function isSqliteFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(16);
    return readSync(fd, buf, 0, 16, 0) === 16 && buf.toString('latin1') === SQLITE_MAGIC;
  } finally {
    closeSync(fd);
  }
}

export function readAuditSource(path: string): AuditSource {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new AuditSourceError(`${path}: no such file`);
  }
  if (!st.isFile()) throw new AuditSourceError(`${path}: not a file (give a gateway.db, a controller database or an export file)`);
  if (isSqliteFile(path)) return readSqlite(path);
  const parsed = parseExport(readFileSync(path, 'utf8'));
  return {
    kind: parsed.format,
    events: parsed.events,
    unreadable: parsed.problems.map((p) => ({ where: `line ${p.line}`, message: p.message })),
  };
}

function readSqlite(path: string): AuditSource {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new AuditSourceError(`${path}: cannot open as SQLite (${(err as Error).message})`);
  }
  try {
    const columns = new Set((db.prepare("SELECT name FROM pragma_table_info('audit_events')").all() as Array<{ name: string }>).map((c) => c.name));
    if (!columns.has('event')) throw new AuditSourceError(`${path}: no audit events table (not a gateway.db or controller database with audit events)`);
    const kind: AuditSourceKind = columns.has('shipped') ? 'gateway-spool' : 'controller-db';
    const sql = kind === 'gateway-spool' ? 'SELECT seq AS row, event FROM audit_events ORDER BY seq' : 'SELECT id AS row, event FROM audit_events ORDER BY chain_id, seq';
    const events: AuditEvent[] = [];
    const unreadable: AuditSource['unreadable'] = [];
    for (const r of db.prepare(sql).iterate() as IterableIterator<{ row: string | number; event: string }>) {
      try {
        events.push(JSON.parse(r.event) as AuditEvent);
      } catch {
        unreadable.push({ where: `row ${r.row}`, message: 'event is not JSON' });
      }
    }
    return { kind, events, unreadable };
  } finally {
    db.close();
  }
}
