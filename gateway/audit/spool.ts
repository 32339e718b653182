/**
 * The gateway's audit spool: an append-only, hash-chained table in <data-dir>/gateway.db.
 * Events stay here until the controller has acknowledged them, so nothing is lost while the
 * controller is down; shipped events are pruned after the retention period (the newest is
 * always kept, it anchors the chain).
 *
 * Nothing is lost unseen:
 *   - events are clamped and checked against the audit schema before they are sealed, so the
 *     controller never refuses one for its shape;
 *   - a write that fails keeps its events queued and retries with backoff; only when the queue
 *     overflows (or the process exits with the store unwritable) are events dropped, and the
 *     next successful write starts with an `audit.gap` event saying how many and why;
 *   - a `model.forwarded` event is committed before the request goes upstream and stays
 *     "awaiting" until its completion is written; one still awaiting when a spool opens (the
 *     gateway was killed mid-request) is closed with a `model.interrupted` event.
 *
 * Durability: writes of one tick share one transaction (group commit). The commit reaches the
 * WAL with synchronous=NORMAL — safe against a crash of the process — and the WAL file is then
 * fsynced off the event loop, coalescing the commits of many ticks into one fsync, which makes
 * them safe against power loss too. The documented trade-off: a power cut can lose the commits
 * of the last few milliseconds (those not yet fsynced). Waiting for the fsync before every
 * upstream request would add a disk flush (~4 ms on the VM disk measured) to each call.
 */
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, fstat as fstatFd, fsync as fsyncFd, fsyncSync, open as openFd, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Statement } from 'better-sqlite3';
import { migrate, type GatewayDb } from '../../platform/sqlite.js';
import { AUDIT_ACTIONS, GENESIS_HASH, sealEvent, type AuditEvent, type UnhashedEvent } from '../../audit/event.js';
import { clampFacts } from './clamp.js';
import { auditEventProblem } from '../../audit/validate.js';

const MIGRATIONS = [
  `CREATE TABLE audit_chain (id INTEGER PRIMARY KEY CHECK (id = 1), chain_id TEXT NOT NULL, created_at TEXT NOT NULL);
   CREATE TABLE audit_events (
     seq INTEGER PRIMARY KEY,
     id TEXT NOT NULL UNIQUE,
     ts TEXT NOT NULL,
     hash TEXT NOT NULL,
     event TEXT NOT NULL,
     shipped INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX audit_events_unshipped ON audit_events (seq) WHERE shipped = 0;`,
  // shipped: 0 pending, 1 acknowledged by the controller, 2 quarantined (refused by the controller).
  `ALTER TABLE audit_events ADD COLUMN awaiting INTEGER NOT NULL DEFAULT 0;
   CREATE INDEX audit_events_awaiting ON audit_events (seq) WHERE awaiting = 1;
   CREATE TABLE audit_quarantine (seq INTEGER PRIMARY KEY, reason TEXT NOT NULL, at TEXT NOT NULL);
   CREATE TABLE audit_alerts (id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, kind TEXT NOT NULL, message TEXT NOT NULL);
   CREATE TABLE audit_shipping (id INTEGER PRIMARY KEY CHECK (id = 1), last_success_at TEXT, last_error TEXT, last_error_at TEXT, failures INTEGER NOT NULL DEFAULT 0);`,
];

/** Events that may wait in memory for a store that cannot be written; beyond this they are dropped (and a gap recorded). */
export const MAX_QUEUED_EVENTS = 10_000;
const MAX_RETRY_MS = 5_000;

/** The fields a caller supplies; the spool adds id, chain position and hashes. */
export type AuditFacts = Omit<UnhashedEvent, 'id' | 'chainId' | 'seq' | 'hashPrev'>;

export interface WriteOptions {
  /** This event opens a request (model.forwarded): it awaits a completion. */
  opensRequest?: boolean;
  /** Id of the forwarded event this one completes. */
  completes?: string;
  /** If the first attempt fails, give up instead of retrying (the caller refuses the request). */
  dropOnFailure?: boolean;
}

interface QueuedWrite {
  facts: AuditFacts;
  opts: WriteOptions;
  resolve(event: AuditEvent): void;
  reject(err: Error): void;
}

interface Row {
  facts: AuditFacts;
  opts: WriteOptions;
}

export type AuditAlertKind = 'write-failed' | 'events-lost' | 'quarantined' | 'interrupted';

export interface SpoolAlert {
  id: number;
  at: string;
  kind: AuditAlertKind;
  message: string;
}

export class AuditSpoolWriteError extends Error {
  override name = 'AuditSpoolWriteError';
}

export interface AuditSpoolOptions {
  chainId?: string;
  /** A group write failed; `queued` events wait for the retry. */
  onFlushError?: (err: unknown, queued: number) => void;
  /** Tenant for the spool's own events (gaps, interruptions) when none is known. */
  tenantId?: string;
}

export class AuditSpool {
  readonly chainId: string;
  private readonly headStmt: Statement<[], { seq: number; hash: string }>;
  private readonly insertStmt: Statement<[number, string, string, string, string, number]>;
  private readonly closeStmt: Statement<[string]>;
  private readonly pendingStmt: Statement<[number], { event: string }>;
  private readonly countStmt: Statement<[], { n: number }>;
  private readonly markStmt: Statement<[number]>;
  private readonly alertStmt: Statement<[string, string, string]>;
  private readonly appendTx: (batch: readonly Row[]) => AuditEvent[];
  /** Events waiting for the next group write (see write). */
  private queued: QueuedWrite[] = [];
  private flushScheduled = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Events dropped since the last successful write, and why; written as one audit.gap event. */
  private lost = { count: 0, why: '', tenantId: '' };
  private readonly onFlushError: (err: unknown, queued: number) => void;
  private readonly tenantId: string;
  private readonly walPath: string | undefined;
  private syncing: Promise<void> | undefined;
  /** The WAL's descriptor, kept open for fsyncs (fsyncWal); released by flush() at shutdown. */
  private walFd: number | undefined;
  private releaseWal = false;
  private syncAgain = false;
  private unsynced = false;

  constructor(private readonly db: GatewayDb, opts: AuditSpoolOptions = {}) {
    this.onFlushError = opts.onFlushError ?? ((err) => process.emitWarning(`audit spool write failed: ${String(err)}`));
    this.tenantId = opts.tenantId ?? 'local';
    migrate(db, 'audit', MIGRATIONS);
    const row = db.prepare('SELECT chain_id FROM audit_chain WHERE id = 1').get() as { chain_id: string } | undefined;
    if (row) {
      this.chainId = row.chain_id;
    } else {
      this.chainId = opts.chainId ?? `gw-${randomUUID()}`;
      db.prepare('INSERT INTO audit_chain (id, chain_id, created_at) VALUES (1, ?, ?)').run(this.chainId, new Date().toISOString());
    }
    this.walPath = !db.memory && String(db.pragma('journal_mode', { simple: true })).toLowerCase() === 'wal' ? `${db.name}-wal` : undefined;
    this.headStmt = db.prepare('SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1');
    this.insertStmt = db.prepare('INSERT INTO audit_events (seq, id, ts, hash, event, awaiting) VALUES (?, ?, ?, ?, ?, ?)');
    this.closeStmt = db.prepare('UPDATE audit_events SET awaiting = 0 WHERE id = ? AND awaiting = 1');
    this.pendingStmt = db.prepare('SELECT event FROM audit_events WHERE shipped = 0 ORDER BY seq LIMIT ?');
    this.countStmt = db.prepare('SELECT count(*) AS n FROM audit_events WHERE shipped = 0');
    this.markStmt = db.prepare('UPDATE audit_events SET shipped = 1 WHERE shipped = 0 AND seq <= ?');
    this.alertStmt = db.prepare('INSERT INTO audit_alerts (at, kind, message) VALUES (?, ?, ?)');
    const tx = db.transaction((batch: readonly Row[]): AuditEvent[] => {
      // The head is read inside the write transaction, so two processes sharing a data dir
      // still produce one unbroken chain.
      const head = this.headStmt.get();
      let seq = head ? head.seq : 0;
      let hashPrev = head ? head.hash : GENESIS_HASH;
      return batch.map(({ facts, opts: o }) => {
        const event = this.seal(facts, ++seq, hashPrev);
        this.insertStmt.run(event.seq, event.id, event.ts, event.hash, JSON.stringify(event), o.opensRequest ? 1 : 0);
        if (o.completes) this.closeStmt.run(o.completes);
        hashPrev = event.hash;
        return event;
      });
    });
    this.appendTx = (batch) => tx.immediate(batch);
    this.recover();
  }

  /** Seals clamped facts; facts that still fail the schema are replaced by an audit.invalid event. */
  private seal(facts: AuditFacts, seq: number, hashPrev: string): AuditEvent {
    const event = sealEvent({ id: randomUUID(), chainId: this.chainId, seq, hashPrev, ...clampFacts(facts) });
    const problem = auditEventProblem(event);
    if (problem === null) return event;
    return sealEvent({
      id: event.id, chainId: this.chainId, seq, hashPrev,
      ...clampFacts({
        ...this.ownFacts(AUDIT_ACTIONS.invalid, `an audit event failed the schema and was replaced: ${problem}`),
        tenantId: typeof facts.tenantId === 'string' && facts.tenantId ? facts.tenantId : this.tenantId,
      }),
    });
  }

  /** Facts of an event the spool writes about itself (gaps, interruptions). */
  private ownFacts(action: string, reason: string, tenantId = this.tenantId): AuditFacts {
    return {
      ts: new Date().toISOString(),
      tenantId,
      actor: { type: 'gateway', id: this.chainId, role: null },
      action,
      target: null,
      result: 'error',
      reason,
      policyVersion: null,
      redactions: [],
      cost: { tokens: 0, usd: 0 },
      traceId: randomUUID(),
    };
  }

  /**
   * At start-up: a forwarded event still awaiting its completion belongs to a gateway that
   * stopped mid-request; close it with model.interrupted. Events lost by a previous process
   * that could not write its store at exit (noted next to the database) become an audit.gap.
   */
  private recover(): void {
    const rows: Row[] = [];
    const lostFile = this.lostFile();
    if (lostFile && existsSync(lostFile)) {
      try {
        const noted = JSON.parse(readFileSync(lostFile, 'utf8')) as { count: number; why: string; tenantId?: string };
        rows.push({ facts: this.ownFacts(AUDIT_ACTIONS.gap, gapReason(noted.count, noted.why), noted.tenantId || this.tenantId), opts: {} });
      } catch {
        rows.push({ facts: this.ownFacts(AUDIT_ACTIONS.gap, 'audit events were lost at an earlier shutdown (the note of how many is unreadable)'), opts: {} });
      }
    }
    const open = this.db.prepare('SELECT event FROM audit_events WHERE awaiting = 1 ORDER BY seq').all() as Array<{ event: string }>;
    for (const r of open) {
      const fwd = JSON.parse(r.event) as AuditEvent;
      rows.push({
        facts: {
          ...fwd,
          ts: new Date().toISOString(),
          action: AUDIT_ACTIONS.interrupted,
          result: 'error',
          reason: `no completion recorded for the request forwarded at seq ${fwd.seq}: the gateway stopped while it was in flight`,
        },
        opts: { completes: fwd.id },
      });
    }
    if (rows.length === 0) return;
    this.appendTx(rows.map((r) => ({ facts: stripChainFields(r.facts), opts: r.opts })));
    if (open.length > 0) this.alert('interrupted', `${open.length} request(s) were in flight when the gateway last stopped; recorded as model.interrupted`);
    if (lostFile && existsSync(lostFile)) rmSync(lostFile, { force: true });
    this.syncNow();
  }

  private lostFile(): string | undefined {
    return this.db.memory ? undefined : `${this.db.name}.audit-lost.json`;
  }

  /** Appends one event now, in its own transaction. */
  append(facts: AuditFacts): AuditEvent {
    const event = this.appendTx([{ facts, opts: {} }])[0]!;
    this.syncSoon();
    return event;
  }

  /**
   * Queues an event for the group write at the end of this tick: under load many requests
   * share one transaction (one transaction per request was ~17% of the gateway's CPU).
   * Resolves once the event is committed. A failed write keeps the event queued and retries;
   * the promise rejects only if the event is given up (dropOnFailure, or the queue overflowed).
   */
  write(facts: AuditFacts, opts: WriteOptions = {}): Promise<AuditEvent> {
    return new Promise((resolve, reject) => {
      if (this.queued.length >= MAX_QUEUED_EVENTS) this.dropOldest();
      this.queued.push({ facts, opts, resolve, reject });
      this.scheduleFlush();
    });
  }

  /** Fire-and-forget form of write (onWritten runs once the event is committed). */
  enqueue(facts: AuditFacts, onWritten?: () => void): void {
    this.write(facts).then(onWritten, () => undefined);
  }

  private dropOldest(): void {
    const dropped = this.queued.shift();
    if (!dropped) return;
    this.lost.count++;
    this.lost.tenantId ||= dropped.facts.tenantId;
    dropped.reject(new AuditSpoolWriteError(`audit event dropped: more than ${MAX_QUEUED_EVENTS} events waited for an unwritable spool`));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.retryTimer) return;
    this.flushScheduled = true;
    setImmediate(() => this.runFlush());
  }

  private runFlush(): void {
    this.flushScheduled = false;
    this.retryTimer = undefined;
    try {
      this.writeQueued();
    } catch (err) {
      this.failures++;
      // Callers that would rather refuse their request than wait (forwarded events) are told now.
      const kept: QueuedWrite[] = [];
      for (const q of this.queued) {
        if (q.opts.dropOnFailure) q.reject(new AuditSpoolWriteError(`the audit spool cannot be written: ${(err as Error).message}`));
        else kept.push(q);
      }
      this.queued = kept;
      this.lost.why = (err as Error).message;
      if (this.failures === 1) {
        try {
          this.alert('write-failed', `audit spool write failed (${(err as Error).message}); ${kept.length} event(s) kept in memory and retried`);
        } catch {
          // the store is unwritable: the log (onFlushError) is all there is
        }
      }
      this.onFlushError(err, kept.length);
      if (kept.length > 0) {
        const delay = Math.min(MAX_RETRY_MS, 50 * 2 ** Math.min(this.failures - 1, 10));
        // Not unref'd: queued events keep the process alive until written (flush() on shutdown clears it).
        this.retryTimer = setTimeout(() => this.runFlush(), delay);
      }
    }
  }

  /** Writes every queued event in one transaction. Throws if the store cannot be written; the events then stay queued. */
  private writeQueued(): void {
    this.flushScheduled = false;
    const batch = this.queued;
    if (batch.length === 0 && this.lost.count === 0) return;
    const rows: Row[] = batch.map((q) => ({ facts: q.facts, opts: q.opts }));
    const lost = this.lost.count;
    if (lost > 0) rows.unshift({ facts: this.ownFacts(AUDIT_ACTIONS.gap, gapReason(lost, this.lost.why), this.lost.tenantId || this.tenantId), opts: {} });
    const events = this.appendTx(rows);
    this.queued = [];
    this.failures = 0;
    if (lost > 0) {
      this.lost = { count: 0, why: '', tenantId: '' };
      this.alert('events-lost', gapReason(lost, events[0]!.reason ?? ''));
    }
    const offset = lost > 0 ? 1 : 0;
    batch.forEach((q, i) => q.resolve(events[i + offset]!));
    this.syncSoon();
  }

  /**
   * Writes everything queued now and fsyncs (on shutdown, before the database closes). If the
   * store cannot be written, notes how many events are lost next to it, so the next start
   * records the gap; never throws.
   */
  flush(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    try {
      this.writeQueued();
      this.syncNow();
      // Shutdown: the kept WAL descriptor goes now, or when an fsync in flight is done with it.
      if (this.syncing) this.releaseWal = true;
      else this.closeWal();
    } catch (err) {
      const count = this.queued.length + this.lost.count;
      const tenantId = this.lost.tenantId || this.queued[0]?.facts.tenantId || '';
      for (const q of this.queued) q.reject(new AuditSpoolWriteError('audit event lost at shutdown: the spool cannot be written'));
      this.queued = [];
      const file = this.lostFile();
      if (file && count > 0) {
        let previous = 0;
        try {
          previous = (JSON.parse(readFileSync(file, 'utf8')) as { count: number }).count;
        } catch {
          // no earlier note
        }
        writeFileSync(file, JSON.stringify({ count: previous + count, why: `shutdown with an unwritable spool (${(err as Error).message})`, tenantId }));
      }
      this.onFlushError(err, 0);
    }
  }

  /** Resolves once every committed write so far is fsynced (tests, shutdown). */
  async synced(): Promise<void> {
    while (this.syncing) await this.syncing;
    if (this.unsynced) this.syncSoon();
    while (this.syncing) await this.syncing;
  }

  /** fsync the WAL off the event loop; commits arriving meanwhile share the next fsync. */
  private syncSoon(): void {
    if (!this.walPath) return;
    this.unsynced = true;
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    const walPath = this.walPath;
    this.syncing = (async () => {
      do {
        this.syncAgain = false;
        this.unsynced = false;
        try {
          await this.fsyncWal(walPath);
        } catch (err) {
          // No WAL file (checkpointed and removed): the commit is in the database file, which
          // SQLite fsyncs when it checkpoints.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.onFlushError(err, 0);
        }
      } while (this.syncAgain);
      this.syncing = undefined;
      if (this.releaseWal) this.closeWal();
    })();
  }

  /**
   * fsyncs the WAL through a descriptor kept open between commits: opening, syncing and closing
   * it through fs/promises for every commit cost ≈ 0.18 ms of the event loop's time, against
   * ≈ 0.05 ms for one callback fsync (measured; two commits per model call). SQLite deletes the
   * WAL only when the last connection to the database closes, and this spool's stays open; a
   * descriptor whose file was unlinked anyway (nlink 0) is dropped, and the path opened and
   * synced again. That check comes after the fsync, in its callback: a forwarded event's commit,
   * which the request waits on before its upstream write, then hands the thread pool one job
   * instead of a synchronous fstat and a job (a second job, asked in the same tick, would land
   * between the commit and the upstream write).
   */
  private async fsyncWal(walPath: string): Promise<void> {
    if (this.walFd === undefined) this.walFd = await openWal(walPath);
    const fd = this.walFd;
    await fsyncDescriptor(fd);
    const links = await new Promise<number>((resolve, reject) => fstatFd(fd, (err, stats) => (err ? reject(err) : resolve(stats.nlink))));
    if (links > 0) return;
    // The file synced was unlinked: the commits are in the WAL at the path, if any (ENOENT: none).
    this.closeWal();
    this.walFd = await openWal(walPath);
    await fsyncDescriptor(this.walFd);
  }

  private closeWal(): void {
    this.releaseWal = false;
    const fd = this.walFd;
    this.walFd = undefined;
    if (fd === undefined) return;
    try {
      closeSync(fd);
    } catch {
      // already closed: nothing held
    }
  }

  private syncNow(): void {
    if (!this.walPath || !existsSync(this.walPath)) return;
    const fd = openSync(this.walPath, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.unsynced = false;
  }

  private alert(kind: AuditAlertKind, message: string): void {
    this.alertStmt.run(new Date().toISOString(), kind, message);
  }

  /** Oldest events not yet acknowledged by the controller, in chain order. */
  pending(limit: number): AuditEvent[] {
    return this.pendingStmt.all(limit).map((r) => JSON.parse(r.event) as AuditEvent);
  }

  pendingCount(): number {
    return this.countStmt.get()!.n;
  }

  markShipped(uptoSeq: number): void {
    this.markStmt.run(uptoSeq);
  }

  /**
   * Sets aside events the controller refused: they are never sent again (the rest of the
   * chain ships on), stay here for `audit verify` and `audit status`, and raise an alert.
   */
  quarantine(refused: ReadonlyArray<{ seq: number; reason: string }>): void {
    if (refused.length === 0) return;
    const at = new Date().toISOString();
    const mark = this.db.prepare('UPDATE audit_events SET shipped = 2 WHERE seq = ? AND shipped = 0');
    const note = this.db.prepare('INSERT OR REPLACE INTO audit_quarantine (seq, reason, at) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      for (const r of refused) {
        mark.run(r.seq);
        note.run(r.seq, r.reason, at);
      }
      const list = refused.map((r) => `seq ${r.seq}: ${r.reason}`).join('; ');
      this.alert('quarantined', `${refused.length} event(s) refused by the controller and quarantined (${list.slice(0, 1000)})`);
    })();
    this.syncSoon();
  }

  /** The shipper's last outcome, for `switchboard audit status` (written only when it changes). */
  noteShipping(outcome: { ok: true } | { ok: false; error: string; failures: number }): void {
    const now = new Date().toISOString();
    if (outcome.ok) {
      this.db.prepare('INSERT INTO audit_shipping (id, last_success_at, failures) VALUES (1, ?, 0) ON CONFLICT (id) DO UPDATE SET last_success_at = excluded.last_success_at, failures = 0').run(now);
    } else {
      this.db
        .prepare('INSERT INTO audit_shipping (id, last_error, last_error_at, failures) VALUES (1, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET last_error = excluded.last_error, last_error_at = excluded.last_error_at, failures = excluded.failures')
        .run(outcome.error.slice(0, 500), now, outcome.failures);
    }
  }

  /** Every stored event in chain order (for verify and export). */
  *events(): IterableIterator<AuditEvent> {
    for (const r of this.db.prepare('SELECT event FROM audit_events ORDER BY seq').iterate() as IterableIterator<{ event: string }>) {
      yield JSON.parse(r.event) as AuditEvent;
    }
  }

  /** Deletes shipped events older than `before`, keeping the newest event as the chain anchor. */
  prune(before: Date): number {
    return this.db
      .prepare('DELETE FROM audit_events WHERE shipped = 1 AND awaiting = 0 AND ts < ? AND seq < (SELECT max(seq) FROM audit_events)')
      .run(before.toISOString()).changes;
  }
}

function openWal(walPath: string): Promise<number> {
  return new Promise<number>((resolve, reject) => openFd(walPath, 'r', (err, fd) => (err ? reject(err) : resolve(fd))));
}

/** Callback fsync (one thread-pool job; fs/promises' FileHandle costs more per call, see fsyncWal). */
function fsyncDescriptor(fd: number): Promise<void> {
  return new Promise<void>((resolve, reject) => fsyncFd(fd, (err) => (err ? reject(err) : resolve())));
}

export function gapReason(count: number, why: string): string {
  return `${count} audit event(s) lost${why ? `: ${why}` : ''}`;
}

/** Facts copied from a stored event must not carry its chain fields (the spool assigns them). */
function stripChainFields(facts: AuditFacts | AuditEvent): AuditFacts {
  const { id: _i, chainId: _c, seq: _s, hashPrev: _h, hash: _x, ...rest } = facts as AuditEvent;
  return rest;
}
