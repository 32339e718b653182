/**
 * Reads audit events from wherever they are kept, for `switchboard audit verify/export`:
 * a gateway's spool (gateway.db), a controller's SQLite database, or an export file (ndjson
 * or CSV). Databases are opened read-only; the file is never changed.
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { AuditEvent } from '../../audit/event.js';
import { parseExport } from '../../audit/export-format.js';

export type AuditSourceKind = 'gateway-spool' | 'controller-db' | 'ndjson' | 'csv';

export interface AuditSource {
  kind: AuditSourceKind;
  events: AuditEvent[];
  /** Rows or lines that could not be read as events (counted as tampering by verify). */
  unreadable: Array<{ where: string; message: string }>;
  /**
   * Rows whose own columns (used by filters, exports and shipping) disagree with the hashed
   * event they hold: an edit there would hide or move an event while the chain still verifies.
   */
  columnEdits: Array<{ where: string; message: string }>;
}

/** Each stored column, and the field of the hashed event it must equal. */
const CONTROLLER_COLUMNS: Array<[string, (e: AuditEvent) => unknown]> = [
  ['id', (e) => e.id],
  ['chain_id', (e) => e.chainId],
  ['seq', (e) => e.seq],
  ['ts', (e) => Date.parse(e.ts)],
  ['tenant_id', (e) => e.tenantId],
  ['actor_type', (e) => e.actor.type],
  ['actor_id', (e) => e.actor.id],
  ['actor_role', (e) => e.actor.role],
  ['action', (e) => e.action],
  ['result', (e) => e.result],
  ['hash', (e) => e.hash],
];
const SPOOL_COLUMNS: Array<[string, (e: AuditEvent) => unknown]> = [
  ['seq', (e) => e.seq],
  ['id', (e) => e.id],
  ['ts', (e) => e.ts],
  ['hash', (e) => e.hash],
];

function sameValue(column: unknown, field: unknown): boolean {
  // SQLite may hand back bigint columns as numbers or strings (PostgreSQL dumps): compare as text.
  return column === field || (column !== null && field !== null && column !== undefined && String(column) === String(field));
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
    columnEdits: [],
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
    const checked = (kind === 'gateway-spool' ? SPOOL_COLUMNS : CONTROLLER_COLUMNS).filter(([c]) => columns.has(c));
    const select = [...new Set(['event', ...checked.map(([c]) => c)])].join(', ');
    const order = kind === 'gateway-spool' ? 'seq' : 'chain_id, seq';
    const events: AuditEvent[] = [];
    const unreadable: AuditSource['unreadable'] = [];
    const columnEdits: AuditSource['columnEdits'] = [];
    for (const r of db.prepare(`SELECT rowid AS _row, ${select} FROM audit_events ORDER BY ${order}`).iterate() as IterableIterator<Record<string, unknown> & { _row: number; event: string }>) {
      let event: AuditEvent;
      try {
        event = JSON.parse(r.event) as AuditEvent;
      } catch {
        unreadable.push({ where: `row ${r._row}`, message: 'event is not JSON' });
        continue;
      }
      events.push(event);
      for (const [column, field] of checked) {
        let expected: unknown;
        try {
          expected = field(event);
        } catch {
          expected = undefined;
        }
        if (!sameValue(r[column], expected)) {
          columnEdits.push({
            where: `row ${r._row} (chain ${String(event.chainId)}, seq ${String(event.seq)})`,
            message: `column ${column} is ${JSON.stringify(r[column])} but the hashed event says ${JSON.stringify(expected)}`,
          });
        }
      }
    }
    return { kind, events, unreadable, columnEdits };
  } finally {
    db.close();
  }
}
