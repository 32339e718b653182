/**
 * Stores gateways' audit events and checks each chain's continuity as batches arrive.
 * Ingest is idempotent by event id. A gap, a fork, a broken link or an event whose hash does
 * not match its content is recorded in audit_alerts — never silently accepted. Gapped and
 * broken-link events are still stored (losing evidence helps nobody); forks and tampered
 * events are kept only inside the alert.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { ControllerTables } from '../storage/schema.js';
import type { ControllerDialect } from '../storage/database.js';
import { AUDIT_ACTIONS, GENESIS_HASH, computeEventHash, type AuditEvent } from '../../audit/event.js';
import type { AuditAlertKind, AuditAlertRow } from './schema.js';
import type { IdempotencyAnswer } from '../idempotency/hook.js';
import './schema.js';
import '../mesh/schema.js';

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: number;
  alerts: Array<{ kind: AuditAlertKind; chainId: string; seq: number; eventId: string; detail: string }>;
}

export interface AuditQuery {
  tenantId?: string;
  actorId?: string;
  action?: string;
  /** Inclusive lower bound, epoch ms. */
  from?: number;
  /** Exclusive upper bound, epoch ms. */
  to?: number;
  limit: number;
  cursor?: string;
}

export interface AuditPage {
  events: AuditEvent[];
  nextCursor: string | null;
}

/** A batch touches a chain that another caller writes. */
export class ForeignChainError extends Error {
  override name = 'ForeignChainError';
}

export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError';
}

type Db = Kysely<ControllerTables>;

export class AuditRepository {
  /** Chains whose head row this process has made sure exists (appendOwnChain). */
  private readonly ensuredChains = new Set<string>();

  constructor(private readonly db: Db, private readonly dialect: ControllerDialect) {}

  /** `writer` is the caller's token subject: a chain belongs to the subject that started it. */
  async ingest(events: readonly AuditEvent[], writer: string, now = Date.now()): Promise<IngestResult> {
    const result: IngestResult = { accepted: 0, duplicates: 0, rejected: 0, alerts: [] };
    // Per chain, in seq order, so a batch that arrived shuffled still links up.
    const sorted = [...events].sort((a, b) => (a.chainId < b.chainId ? -1 : a.chainId > b.chainId ? 1 : a.seq - b.seq));
    await this.db.transaction().execute(async (trx) => {
      const chainIds = [...new Set(sorted.map((e) => e.chainId))];
      const owned = await trx.selectFrom('audit_chains').select(['chain_id', 'owner']).where('chain_id', 'in', chainIds).execute();
      const foreign = owned.find((c) => c.owner !== writer);
      if (foreign) throw new ForeignChainError(`chain ${foreign.chain_id} is written by another identity; a gateway may only extend its own chain`);
      for (const event of sorted) await this.ingestOne(trx, event, writer, now, result);
    });
    return result;
  }

  /**
   * Appends a batch of events that continue a chain this process writes itself (the controller's
   * own mesh chain): one transaction, one multi-row insert, one head update — instead of the
   * per-event continuity checks of `ingest`, which exist for events that arrive from elsewhere.
   * The batch must start right after the stored head and link to it; otherwise nothing is
   * written and the error says why (another writer, or a lost append).
   *
   * `answers`: Idempotency-Key answers of the requests whose events these are, stored in the same
   * statement (PostgreSQL) or transaction (SQLite), only if the events are (decision 0079).
   */
  async appendOwnChain(events: readonly AuditEvent[], writer: string, now = Date.now(), answers: readonly IdempotencyAnswer[] = []): Promise<void> {
    if (events.length === 0) return;
    const first = events[0]!;
    for (let i = 0; i < events.length; i++) {
      const e = events[i]!;
      if (e.chainId !== first.chainId || e.seq !== first.seq + i || (i > 0 && e.hashPrev !== events[i - 1]!.hash)) {
        throw new Error(`audit batch for chain ${first.chainId} is not one contiguous run from seq ${first.seq}`);
      }
    }
    // The chain row exists from this process's first batch on. After that the head moves only if
    // it is still where this batch continues it, so no separate locking read is needed.
    if (!this.ensuredChains.has(first.chainId)) {
      await this.db
        .insertInto('audit_chains')
        .values({ chain_id: first.chainId, tenant_id: first.tenantId, head_seq: 0, head_hash: GENESIS_HASH, owner: writer, updated_at: now })
        .onConflict((oc) => oc.column('chain_id').doNothing())
        .execute();
      this.ensuredChains.add(first.chainId);
    }
    const last = events[events.length - 1]!;
    if (this.dialect === 'postgres') {
      // One statement (one round trip, atomic on its own): the head update, and the events
      // inserted only when it moved. Was four round trips (begin, update, insert, commit) that
      // every answer waiting on the group commit queued behind.
      const rows = JSON.stringify(events.map((e) => eventRow(e, now)));
      // The answers are written only when the head moved (joined with `moved`), in the same statement.
      const answered = answers.length
        ? sql`, answered AS (
          UPDATE mesh_idempotency AS i SET status = a.status, body = a.body
            FROM moved, jsonb_to_recordset(${JSON.stringify(answers)}::jsonb) AS a(subject text, key text, status integer, body text)
           WHERE i.subject = a.subject AND i.key = a.key)`
        : sql``;
      const written = await sql`
        WITH moved AS (
          UPDATE audit_chains SET head_seq = ${last.seq}, head_hash = ${last.hash}, updated_at = ${now}
          WHERE chain_id = ${first.chainId} AND owner = ${writer} AND head_seq = ${first.seq - 1} AND head_hash = ${first.hashPrev}
          RETURNING 1
        )${answered}
        INSERT INTO audit_events SELECT r.* FROM moved, jsonb_populate_recordset(NULL::audit_events, ${rows}::jsonb) AS r`.execute(this.db);
      if (Number(written.numAffectedRows ?? 0n) !== events.length) await this.headMismatch(this.db, first, writer);
      return;
    }
    await this.db.transaction().execute(async (trx) => {
      const moved = await trx
        .updateTable('audit_chains')
        .set({ head_seq: last.seq, head_hash: last.hash, updated_at: now })
        .where('chain_id', '=', first.chainId)
        .where('owner', '=', writer)
        .where('head_seq', '=', first.seq - 1)
        .where('head_hash', '=', first.hashPrev)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) await this.headMismatch(trx, first, writer);
      // 13 values a row: stay well under SQLite's 32766 bound parameters per statement.
      for (let i = 0; i < events.length; i += 500) {
        await trx
          .insertInto('audit_events')
          .values(
            events.slice(i, i + 500).map((e) => eventRow(e, now)),
          )
          .execute();
      }
      for (const a of answers) await trx.updateTable('mesh_idempotency').set({ status: a.status, body: a.body }).where('subject', '=', a.subject).where('key', '=', a.key).execute();
    });
  }

  /** Why a batch did not continue the stored head: another writer owns the chain, or the head is elsewhere. */
  private async headMismatch(db: Db, first: AuditEvent, writer: string): Promise<never> {
    const head = await db.selectFrom('audit_chains').select(['head_seq', 'owner']).where('chain_id', '=', first.chainId).executeTakeFirst();
    if (head && head.owner !== writer) throw new ForeignChainError(`chain ${first.chainId} is written by another identity`);
    throw new Error(`audit batch for chain ${first.chainId} starts at seq ${first.seq} but the stored head is seq ${head ? Number(head.head_seq) : 'missing'}`);
  }

  private async ingestOne(trx: Transaction<ControllerTables>, e: AuditEvent, writer: string, now: number, result: IngestResult): Promise<void> {
    const alert = async (kind: AuditAlertKind, detail: string, evidence?: AuditEvent) => {
      const row: AuditAlertRow = {
        id: randomUUID(),
        chain_id: e.chainId,
        kind,
        seq: e.seq,
        event_id: e.id,
        detail: evidence ? `${detail}; event: ${JSON.stringify(evidence)}` : detail,
        created_at: now,
      };
      await trx.insertInto('audit_alerts').values(row).execute();
      result.alerts.push({ kind, chainId: e.chainId, seq: e.seq, eventId: e.id, detail });
    };

    if (computeEventHash(e) !== e.hash) {
      result.rejected++;
      await alert('tampered', `event seq ${e.seq} content does not match its hash`, e);
      return;
    }
    const same = await trx.selectFrom('audit_events').select(['id', 'hash']).where('id', '=', e.id).executeTakeFirst();
    if (same) {
      if (same.hash === e.hash) {
        result.duplicates++;
        return;
      }
      result.rejected++;
      await alert('fork', `event id ${e.id} was already received with different content`, e);
      return;
    }
    const atSeq = await trx
      .selectFrom('audit_events')
      .select('id')
      .where('chain_id', '=', e.chainId)
      .where('seq', '=', e.seq)
      .executeTakeFirst();
    if (atSeq) {
      result.rejected++;
      await alert('fork', `chain already has a different event (${atSeq.id}) at seq ${e.seq}`, e);
      return;
    }

    await trx
      .insertInto('audit_chains')
      .values({ chain_id: e.chainId, tenant_id: e.tenantId, head_seq: 0, head_hash: GENESIS_HASH, owner: writer, updated_at: now })
      .onConflict((oc) => oc.column('chain_id').doNothing())
      .execute();
    let headQuery = trx.selectFrom('audit_chains').select(['head_seq', 'head_hash']).where('chain_id', '=', e.chainId);
    if (this.dialect === 'postgres') headQuery = headQuery.forUpdate();
    const head = (await headQuery.executeTakeFirstOrThrow()) as { head_seq: number; head_hash: string };
    const headSeq = Number(head.head_seq);

    if (e.seq === headSeq + 1) {
      if (e.hashPrev !== head.head_hash) {
        await alert('broken-link', `event seq ${e.seq} does not link to the stored event seq ${headSeq} (hashPrev mismatch)`);
      }
    } else if (e.seq > headSeq + 1) {
      const missing = headSeq + 1 === e.seq - 1 ? `seq ${headSeq + 1}` : `seq ${headSeq + 1}..${e.seq - 1}`;
      await alert('gap', `events ${missing} never arrived before seq ${e.seq}`);
    } else {
      // A late event filling an earlier gap: check it links to its stored predecessor.
      const prev = await trx
        .selectFrom('audit_events')
        .select('hash')
        .where('chain_id', '=', e.chainId)
        .where('seq', '=', e.seq - 1)
        .executeTakeFirst();
      const expected = e.seq === 1 ? GENESIS_HASH : prev?.hash;
      if (expected !== undefined && expected !== e.hashPrev) {
        await alert('broken-link', `late event seq ${e.seq} does not link to the stored event seq ${e.seq - 1}`);
      }
    }

    await trx
      .insertInto('audit_events')
      .values(eventRow(e, now))
      .execute();
    if (e.action === AUDIT_ACTIONS.gap) {
      // The gateway lost events it could not write, and said so in its chain.
      await alert('lost', `the gateway recorded lost events at seq ${e.seq}: ${e.reason ?? 'no reason given'}`);
    }
    if (e.seq > headSeq) {
      await trx
        .updateTable('audit_chains')
        .set({ head_seq: e.seq, head_hash: e.hash, updated_at: now })
        .where('chain_id', '=', e.chainId)
        .execute();
    }
    result.accepted++;
  }

  /** Events matching the filters, oldest first, keyset-paginated on (ts, chain, seq). */
  async query(q: AuditQuery): Promise<AuditPage> {
    let query = this.filtered(q).select(['event', 'ts', 'chain_id', 'seq']).orderBy('ts').orderBy('chain_id').orderBy('seq').limit(q.limit + 1);
    if (q.cursor) {
      const c = decodeCursor(q.cursor);
      query = query.where((eb) =>
        eb.or([
          eb('ts', '>', c.ts),
          eb.and([eb('ts', '=', c.ts), eb('chain_id', '>', c.chainId)]),
          eb.and([eb('ts', '=', c.ts), eb('chain_id', '=', c.chainId), eb('seq', '>', c.seq)]),
        ]),
      );
    }
    const rows = await query.execute();
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      events: page.map((r) => JSON.parse(r.event) as AuditEvent),
      nextCursor: rows.length > q.limit && last ? encodeCursor(Number(last.ts), last.chain_id, Number(last.seq)) : null,
    };
  }

  /**
   * Every matching event in chain order (chain, then seq), read in pages so memory stays flat;
   * chain order is what lets `switchboard audit verify` check an export.
   */
  async *exportEvents(q: Omit<AuditQuery, 'limit' | 'cursor'>, pageSize = 1000): AsyncGenerator<AuditEvent> {
    let after: { chainId: string; seq: number } | undefined;
    for (;;) {
      let query = this.filtered(q).select(['event', 'chain_id', 'seq']).orderBy('chain_id').orderBy('seq').limit(pageSize);
      if (after) {
        const a = after;
        query = query.where((eb) => eb.or([eb('chain_id', '>', a.chainId), eb.and([eb('chain_id', '=', a.chainId), eb('seq', '>', a.seq)])]));
      }
      const rows = await query.execute();
      for (const r of rows) yield JSON.parse(r.event) as AuditEvent;
      const last = rows[rows.length - 1];
      if (!last || rows.length < pageSize) return;
      after = { chainId: last.chain_id, seq: Number(last.seq) };
    }
  }

  /** Records events refused at ingest (they failed the schema), so the refusal is visible here too. */
  async recordRefused(refused: ReadonlyArray<{ chainId: string; seq: number; eventId: string; reason: string }>, now = Date.now()): Promise<void> {
    if (refused.length === 0) return;
    await this.db
      .insertInto('audit_alerts')
      .values(refused.map((r) => ({ id: randomUUID(), chain_id: r.chainId, kind: 'refused' as const, seq: r.seq, event_id: r.eventId, detail: `event refused at ingest: ${r.reason}`, created_at: now })))
      .execute();
  }

  async alerts(chainId?: string, limit = 100): Promise<Array<Omit<AuditAlertRow, 'detail'> & { detail: string }>> {
    let q = this.db.selectFrom('audit_alerts').selectAll().orderBy('created_at', 'desc').limit(limit);
    if (chainId) q = q.where('chain_id', '=', chainId);
    return (await q.execute()).map((r) => ({ ...r, seq: Number(r.seq), created_at: Number(r.created_at) }));
  }

  async chainHead(chainId: string): Promise<{ seq: number; hash: string } | undefined> {
    const row = await this.db.selectFrom('audit_chains').select(['head_seq', 'head_hash']).where('chain_id', '=', chainId).executeTakeFirst();
    return row ? { seq: Number(row.head_seq), hash: row.head_hash } : undefined;
  }

  /** Deletes events older than the cutoff; chain heads stay, so continuity checks go on. */
  async deleteOlderThan(cutoffMs: number): Promise<number> {
    const res = await this.db.deleteFrom('audit_events').where('ts', '<', cutoffMs).executeTakeFirst();
    await this.db.deleteFrom('audit_alerts').where('created_at', '<', cutoffMs).execute();
    return Number(res.numDeletedRows);
  }

  private filtered(q: Omit<AuditQuery, 'limit' | 'cursor'>) {
    let query = this.db.selectFrom('audit_events');
    if (q.tenantId !== undefined) query = query.where('tenant_id', '=', q.tenantId);
    if (q.actorId !== undefined) query = query.where('actor_id', '=', q.actorId);
    if (q.action !== undefined) query = query.where('action', '=', q.action);
    if (q.from !== undefined) query = query.where('ts', '>=', q.from);
    if (q.to !== undefined) query = query.where('ts', '<', q.to);
    return query;
  }
}

function encodeCursor(ts: number, chainId: string, seq: number): string {
  return Buffer.from(JSON.stringify([ts, chainId, seq])).toString('base64url');
}

function decodeCursor(cursor: string): { ts: number; chainId: string; seq: number } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 3 && Number.isInteger(v[0]) && typeof v[1] === 'string' && Number.isInteger(v[2])) {
      return { ts: v[0] as number, chainId: v[1], seq: v[2] as number };
    }
  } catch {
    // fall through to the error below
  }
  throw new InvalidCursorError('cursor is not one this server issued');
}

/** The stored row of an event: its filter columns beside the hashed event itself. */
function eventRow(e: AuditEvent, now: number) {
  return {
    id: e.id,
    chain_id: e.chainId,
    seq: e.seq,
    ts: Date.parse(e.ts),
    tenant_id: e.tenantId,
    actor_type: e.actor.type,
    actor_id: e.actor.id,
    actor_role: e.actor.role,
    action: e.action,
    result: e.result,
    hash: e.hash,
    event: JSON.stringify(e),
    received_at: now,
  };
}
