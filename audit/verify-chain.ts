/**
 * Checks audit chains for tampering: an edited event (its hash no longer matches its fields,
 * or the next event's hashPrev no longer matches it), a removed event (a gap in seq), events
 * out of order, and forks (two different events at one position). Works on any sequence of
 * events — a gateway spool, a controller store or an export file — in the order given.
 */
import { AUDIT_ACTIONS, GENESIS_HASH, computeEventHash, type AuditEvent } from './event.js';

export type ChainProblemKind = 'edited' | 'removed' | 'reordered' | 'forked' | 'duplicate' | 'bad-genesis';

export interface ChainProblem {
  kind: ChainProblemKind;
  chainId: string;
  seq: number;
  eventId?: string;
  message: string;
}

export interface ChainSummary {
  chainId: string;
  events: number;
  firstSeq: number;
  lastSeq: number;
  headHash: string;
}

/** A loss the writer recorded itself (audit.gap) or a request it never saw finish (model.interrupted). */
export interface RecordedLoss {
  kind: 'gap' | 'interrupted';
  chainId: string;
  seq: number;
  message: string;
}

export interface ChainReport {
  /** No tampering found. Recorded losses do not make a chain tampered; they are listed in `losses`. */
  ok: boolean;
  events: number;
  chains: ChainSummary[];
  problems: ChainProblem[];
  losses: RecordedLoss[];
}

export function verifyChains(events: Iterable<AuditEvent>): ChainReport {
  const byChain = new Map<string, AuditEvent[]>();
  let total = 0;
  for (const e of events) {
    total++;
    let list = byChain.get(e.chainId);
    if (!list) byChain.set(e.chainId, (list = []));
    list.push(e);
  }
  const problems: ChainProblem[] = [];
  const chains: ChainSummary[] = [];
  const losses: RecordedLoss[] = [];
  for (const [chainId, list] of byChain) {
    chains.push(verifyOneChain(chainId, list, problems));
    for (const e of list) {
      if (e.action === AUDIT_ACTIONS.gap) losses.push({ kind: 'gap', chainId, seq: e.seq, message: e.reason ?? 'events were lost' });
      else if (e.action === AUDIT_ACTIONS.interrupted) losses.push({ kind: 'interrupted', chainId, seq: e.seq, message: e.reason ?? 'a request was interrupted' });
    }
  }
  return { ok: problems.length === 0, events: total, chains, problems, losses };
}

function verifyOneChain(chainId: string, inGivenOrder: AuditEvent[], problems: ChainProblem[]): ChainSummary {
  // Order: the given order must already be ascending by seq; anything else was moved.
  for (let i = 1; i < inGivenOrder.length; i++) {
    const prev = inGivenOrder[i - 1]!;
    const cur = inGivenOrder[i]!;
    if (cur.seq < prev.seq) {
      problems.push({ kind: 'reordered', chainId, seq: cur.seq, eventId: cur.id, message: `event seq ${cur.seq} appears after seq ${prev.seq}` });
    }
  }
  const sorted = [...inGivenOrder].sort((a, b) => a.seq - b.seq);
  let prev: AuditEvent | undefined;
  for (const cur of sorted) {
    if (computeEventHash(cur) !== cur.hash) {
      problems.push({ kind: 'edited', chainId, seq: cur.seq, eventId: cur.id, message: `event seq ${cur.seq} was modified: its content does not match its hash` });
    }
    if (!prev) {
      if (cur.seq === 1 && cur.hashPrev !== GENESIS_HASH) {
        problems.push({ kind: 'bad-genesis', chainId, seq: 1, eventId: cur.id, message: 'first event of the chain does not start from the genesis hash' });
      }
    } else if (cur.seq === prev.seq) {
      const same = cur.id === prev.id && cur.hash === prev.hash;
      problems.push(
        same
          ? { kind: 'duplicate', chainId, seq: cur.seq, eventId: cur.id, message: `event seq ${cur.seq} appears twice` }
          : { kind: 'forked', chainId, seq: cur.seq, eventId: cur.id, message: `two different events claim seq ${cur.seq}` },
      );
      continue;
    } else if (cur.seq > prev.seq + 1) {
      const missing = cur.seq - prev.seq - 1;
      problems.push({
        kind: 'removed',
        chainId,
        seq: prev.seq + 1,
        message: missing === 1 ? `event seq ${prev.seq + 1} is missing` : `events seq ${prev.seq + 1}..${cur.seq - 1} are missing (${missing})`,
      });
    } else if (cur.hashPrev !== prev.hash) {
      problems.push({ kind: 'edited', chainId, seq: cur.seq, eventId: cur.id, message: `event seq ${cur.seq} does not link to event seq ${prev.seq} (hashPrev mismatch)` });
    }
    prev = cur;
  }
  const first = sorted[0]!;
  const last = sorted[sorted.length - 1]!;
  return { chainId, events: sorted.length, firstSeq: first.seq, lastSeq: last.seq, headHash: last.hash };
}
