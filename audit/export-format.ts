/**
 * Audit export formats. ndjson: one event per line, exactly as chained. CSV (RFC 4180): one
 * column per field, so spreadsheets can read it, and lossless so `audit verify` can rebuild
 * every event and check the chain: null is an empty unquoted cell, an empty string is `""`,
 * redactions are a JSON cell.
 */
import type { AuditEvent } from './event.js';
import { auditEventProblem } from './validate.js';

export type ExportFormat = 'ndjson' | 'csv';

export const CSV_COLUMNS = [
  'id', 'ts', 'chainId', 'seq', 'tenantId', 'actorType', 'actorId', 'actorRole', 'action', 'target', 'result',
  'reason', 'policyVersion', 'redactions', 'costTokens', 'costUsd', 'traceId', 'hashPrev', 'hash',
  // Added later, so it comes last: exports without it (one cell fewer) still read back.
  'sessionId',
] as const;

export const CSV_HEADER = `${CSV_COLUMNS.join(',')}\r\n`;

function cell(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return s === '' || /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsvRow(e: AuditEvent): string {
  return `${[
    e.id, e.ts, e.chainId, e.seq, e.tenantId, e.actor.type, e.actor.id, e.actor.role, e.action, e.target, e.result,
    e.reason, e.policyVersion, JSON.stringify(e.redactions), e.cost.tokens, e.cost.usd, e.traceId, e.hashPrev, e.hash,
    e.sessionId ?? null,
  ].map(cell).join(',')}\r\n`;
}

export function toNdjsonLine(e: AuditEvent): string {
  return `${JSON.stringify(e)}\n`;
}

/** Splits CSV text into rows of cells; an unquoted empty cell is null. */
function parseCsv(text: string): Array<Array<string | null>> {
  const rows: Array<Array<string | null>> = [];
  let row: Array<string | null> = [];
  let i = 0;
  const n = text.length;
  while (i < n) {
    let value: string | null;
    if (text[i] === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= n) throw new Error('unterminated quoted cell');
        const ch = text[i]!;
        if (ch === '"') {
          if (text[i + 1] === '"') {
            s += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += ch;
        i++;
      }
      value = s;
    } else {
      let j = i;
      while (j < n && text[j] !== ',' && text[j] !== '\r' && text[j] !== '\n') j++;
      value = j === i ? null : text.slice(i, j);
      i = j;
    }
    row.push(value);
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    rows.push(row);
    row = [];
  }
  return rows;
}

export interface ParsedExport {
  format: ExportFormat;
  events: AuditEvent[];
  /** Lines that are not valid events (a tampered export may also break the format). */
  problems: Array<{ line: number; message: string }>;
}

/** Reads an ndjson or CSV export (detected from the first line). */
export function parseExport(text: string): ParsedExport {
  const format: ExportFormat = text.startsWith(CSV_COLUMNS.join(',')) ? 'csv' : 'ndjson';
  const events: AuditEvent[] = [];
  const problems: ParsedExport['problems'] = [];
  const accept = (line: number, candidate: unknown) => {
    const problem = auditEventProblem(candidate);
    if (problem === null) events.push(candidate as AuditEvent);
    else problems.push({ line, message: `not a valid audit event: ${problem}` });
  };
  if (format === 'ndjson') {
    text.split('\n').forEach((line, idx) => {
      if (line.trim() === '') return;
      try {
        accept(idx + 1, JSON.parse(line));
      } catch {
        problems.push({ line: idx + 1, message: 'not JSON' });
      }
    });
    return { format, events, problems };
  }
  let rows: Array<Array<string | null>>;
  try {
    rows = parseCsv(text);
  } catch (err) {
    return { format, events, problems: [{ line: 0, message: `CSV is malformed: ${(err as Error).message}` }] };
  }
  rows.slice(1).forEach((r, idx) => {
    const line = idx + 2;
    if (r.length !== CSV_COLUMNS.length && r.length !== CSV_COLUMNS.length - 1) {
      problems.push({ line, message: `expected ${CSV_COLUMNS.length} cells, found ${r.length}` });
      return;
    }
    const [id, ts, chainId, seq, tenantId, actorType, actorId, actorRole, action, target, result, reason, policyVersion, redactions, costTokens, costUsd, traceId, hashPrev, hash, sessionId] = r;
    let parsedRedactions: unknown;
    try {
      parsedRedactions = JSON.parse(redactions ?? 'null');
    } catch {
      problems.push({ line, message: 'redactions cell is not JSON' });
      return;
    }
    accept(line, {
      id, ts, chainId, seq: Number(seq), tenantId,
      actor: { type: actorType, id: actorId, role: actorRole },
      action, target, result, reason, policyVersion,
      redactions: parsedRedactions,
      cost: { tokens: Number(costTokens), usd: Number(costUsd) },
      traceId, hashPrev, hash,
      // Absent, not null, when the event had none: the hash covers exactly the fields present.
      ...(sessionId !== null && sessionId !== undefined ? { sessionId } : {}),
    });
  });
  return { format, events, problems };
}
