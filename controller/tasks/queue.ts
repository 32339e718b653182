/**
 * The durable delivery queue behind routing, approvals and notifications. One interface, two
 * implementations over the controller's own database:
 *   - SQLite: a lease table; a claim is one `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING`
 *     (SQLite has one writer, so the claim is atomic without row locks);
 *   - PostgreSQL: the same table, claimed with `FOR UPDATE SKIP LOCKED`, so several controller
 *     processes on one database never hand the same item to two workers.
 * An item is leased to the worker that claimed it; when the lease runs out (worker crashed, or
 * the controller restarted mid-delivery) the item is claimable again with attempts + 1, up to
 * maxAttempts, after which it is dead (the task fails).
 *
 * No double delivery: each claim is a new attempt with a fresh lease id, which is the fencing
 * token of that attempt. Only an item whose lease ran out is claimable again, and claiming it
 * replaces the lease id, so from then on the earlier holder's result, progress or ack is refused.
 * Until someone re-claims it, the holder's lease id stays valid even past `lease_until`: a slow
 * worker's result is accepted then (nobody else holds the item) instead of being refused and the
 * task re-run elsewhere. A claim whose answer never reached the worker (the long-poll's client
 * went away) is released at once (`release`), so it is neither lost until the lease runs out nor
 * counted as an attempt.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { ControllerTables } from '../storage/schema.js';
import type { ControllerDialect } from '../storage/database.js';
import type { MeshDeliveryRow, MeshTaskRow } from '../mesh/schema.js';
import '../mesh/schema.js';

/** The states of a delivery that count as the agent's open work (its backlog): not yet done. */
export const OPEN_DELIVERY_STATES = ['queued', 'leased'] as const;

export interface NewDelivery {
  id: string;
  kind: string;
  agentId: string;
  taskId: string | null;
  approvalId: string | null;
  payload: string;
}

export interface QueueSettings {
  leaseMs: number;
  maxAttempts: number;
}

export const DEFAULT_QUEUE_SETTINGS: QueueSettings = { leaseMs: 60_000, maxAttempts: 5 };

export type SettleOutcome = { resultState: string; result: string } | { resultState: null; result: null };

export interface TaskQueue {
  readonly implementation: 'sqlite-lease-table' | 'postgres-skip-locked';
  readonly settings: QueueSettings;
  enqueue(items: readonly NewDelivery[], db?: Kysely<ControllerTables>, now?: number): Promise<void>;
  /** Stores a task and queues its deliveries atomically (a duplicate message id fails both). */
  enqueueWithTask(task: MeshTaskRow, items: readonly NewDelivery[], now?: number): Promise<void>;
  /** Leases up to `max` items of this agent (oldest first). */
  claim(agentId: string, max: number, now?: number): Promise<MeshDeliveryRow[]>;
  /** Extends a lease; false when the lease is no longer this worker's (re-claimed, canceled, dead, done). */
  extend(deliveryId: string, leaseId: string, now?: number): Promise<boolean>;
  /** Hands back a claim that never reached its worker: queued again at once, the attempt not counted. */
  release(deliveryId: string, leaseId: string, now?: number): Promise<boolean>;
  /** Items not yet done (queued or leased) per agent, for the given agents (absent = 0). */
  backlogs(agentIds: readonly string[]): Promise<Map<string, number>>;
  /** Marks a leased item done with its outcome; false when this lease id is no longer the item's (re-claimed, canceled, dead) or it is done. */
  settle(deliveryId: string, leaseId: string, outcome: SettleOutcome, now?: number): Promise<boolean>;
  /** Cancels every open item of a task; returns how many. */
  cancelTask(taskId: string, now?: number): Promise<number>;
  /** Cancels every open item of an approval (decided, withdrawn, escalated). */
  cancelApproval(approvalId: string, now?: number): Promise<number>;
  /** Items whose last lease ran out with no attempts left become dead; returned so callers can fail their tasks. */
  reapExhausted(now?: number): Promise<MeshDeliveryRow[]>;
  /** Agents with an item whose lease ran out in (`after`, `upTo`] and that may be claimed again (the sweeper wakes their waiters). */
  expiredLeaseAgents(after: number, upTo: number): Promise<string[]>;
  /** Items not yet done (queued or leased) for an agent. */
  backlog(agentId: string): Promise<number>;
}

abstract class LeaseTableQueue implements TaskQueue {
  constructor(
    readonly implementation: TaskQueue['implementation'],
    protected readonly db: Kysely<ControllerTables>,
    readonly settings: QueueSettings,
  ) {}

  async enqueue(items: readonly NewDelivery[], db = this.db, now = Date.now()): Promise<void> {
    if (items.length === 0) return;
    await db.insertInto('mesh_deliveries').values(this.rows(items, now)).execute();
  }

  async enqueueWithTask(task: MeshTaskRow, items: readonly NewDelivery[], now = Date.now()): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('mesh_tasks').values(task).execute();
      await this.enqueue(items, trx, now);
    });
  }

  protected rows(items: readonly NewDelivery[], now: number) {
    return items.map((i) => ({
      id: i.id,
      kind: i.kind,
      agent_id: i.agentId,
      task_id: i.taskId,
      approval_id: i.approvalId,
      payload: i.payload,
      state: 'queued' as const,
      attempts: 0,
      lease_id: null,
      lease_until: null,
      available_at: now,
      result_state: null,
      result: null,
      created_at: now,
      updated_at: now,
    }));
  }

  async claim(agentId: string, max: number, now = Date.now()): Promise<MeshDeliveryRow[]> {
    const rows = await this.claimRows(agentId, max, now, randomUUID(), now + this.settings.leaseMs);
    return rows
      .map((r) => ({ ...r, attempts: Number(r.attempts), lease_until: r.lease_until === null ? null : Number(r.lease_until), created_at: Number(r.created_at) }))
      .sort((a, b) => a.created_at - b.created_at || (a.id < b.id ? -1 : 1));
  }

  /** One atomic statement that leases up to `max` claimable items and returns them. */
  protected abstract claimRows(agentId: string, max: number, now: number, leaseId: string, until: number): Promise<MeshDeliveryRow[]>;

  protected claimable(agentId: string, now: number) {
    return sql`agent_id = ${agentId} AND attempts < ${this.settings.maxAttempts} AND ((state = 'queued' AND available_at <= ${now}) OR (state = 'leased' AND lease_until <= ${now}))`;
  }

  async extend(deliveryId: string, leaseId: string, now = Date.now()): Promise<boolean> {
    const res = await this.db
      .updateTable('mesh_deliveries')
      .set({ lease_until: now + this.settings.leaseMs, updated_at: now })
      .where('id', '=', deliveryId)
      .where('lease_id', '=', leaseId)
      .where('state', '=', 'leased')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async release(deliveryId: string, leaseId: string, now = Date.now()): Promise<boolean> {
    const res = await this.db
      .updateTable('mesh_deliveries')
      .set((eb) => ({ state: 'queued', lease_id: null, lease_until: null, available_at: now, attempts: eb('attempts', '-', 1), updated_at: now }))
      .where('id', '=', deliveryId)
      .where('lease_id', '=', leaseId)
      .where('state', '=', 'leased')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async backlogs(agentIds: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    if (agentIds.length === 0) return out;
    const rows = await this.db
      .selectFrom('mesh_deliveries')
      .select((eb) => ['agent_id', eb.fn.countAll<number | string>().as('n')])
      .where('agent_id', 'in', [...agentIds])
      .where('state', 'in', OPEN_DELIVERY_STATES)
      .groupBy('agent_id')
      .execute();
    for (const r of rows) out.set(r.agent_id, Number(r.n));
    return out;
  }

  async settle(deliveryId: string, leaseId: string, outcome: SettleOutcome, now = Date.now()): Promise<boolean> {
    const res = await this.db
      .updateTable('mesh_deliveries')
      .set({ state: 'done', result_state: outcome.resultState, result: outcome.result, lease_until: null, updated_at: now })
      .where('id', '=', deliveryId)
      .where('lease_id', '=', leaseId)
      .where('state', '=', 'leased')
      .executeTakeFirst();
    return Number(res.numUpdatedRows) === 1;
  }

  async cancelTask(taskId: string, now = Date.now()): Promise<number> {
    const res = await this.db
      .updateTable('mesh_deliveries')
      .set({ state: 'canceled', result_state: 'canceled', updated_at: now })
      .where('task_id', '=', taskId)
      .where('state', 'in', ['queued', 'leased'])
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  async cancelApproval(approvalId: string, now = Date.now()): Promise<number> {
    const res = await this.db
      .updateTable('mesh_deliveries')
      .set({ state: 'canceled', updated_at: now })
      .where('approval_id', '=', approvalId)
      .where('state', 'in', ['queued', 'leased'])
      .executeTakeFirst();
    return Number(res.numUpdatedRows);
  }

  async reapExhausted(now = Date.now()): Promise<MeshDeliveryRow[]> {
    const result = await sql<MeshDeliveryRow>`
      UPDATE mesh_deliveries SET state = 'dead', result_state = 'failed', updated_at = ${now}
       WHERE state = 'leased' AND lease_until <= ${now} AND attempts >= ${this.settings.maxAttempts}
      RETURNING *`.execute(this.db);
    return result.rows;
  }

  async expiredLeaseAgents(after: number, upTo: number): Promise<string[]> {
    // The (state, lease_until) index serves the range.
    const rows = await this.db
      .selectFrom('mesh_deliveries')
      .select('agent_id')
      .distinct()
      .where('state', '=', 'leased')
      .where('lease_until', '>', after)
      .where('lease_until', '<=', upTo)
      .where('attempts', '<', this.settings.maxAttempts)
      .execute();
    return rows.map((r) => r.agent_id);
  }

  async backlog(agentId: string): Promise<number> {
    const r = await this.db
      .selectFrom('mesh_deliveries')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where('agent_id', '=', agentId)
      .where('state', 'in', OPEN_DELIVERY_STATES)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }
}

/** SQLite: one writer at a time, so `UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING` is atomic. */
export class SqliteLeaseQueue extends LeaseTableQueue {
  constructor(db: Kysely<ControllerTables>, settings: QueueSettings) {
    super('sqlite-lease-table', db, settings);
  }

  protected async claimRows(agentId: string, max: number, now: number, leaseId: string, until: number): Promise<MeshDeliveryRow[]> {
    const r = await sql<MeshDeliveryRow>`
      UPDATE mesh_deliveries
         SET state = 'leased', lease_id = ${leaseId}, lease_until = ${until}, attempts = attempts + 1, updated_at = ${now}
       WHERE id IN (SELECT id FROM mesh_deliveries WHERE ${this.claimable(agentId, now)} ORDER BY created_at, id LIMIT ${max})
      RETURNING *`.execute(this.db);
    return r.rows;
  }
}

/**
 * PostgreSQL: rows picked in a CTE with `FOR UPDATE SKIP LOCKED` (a locking CTE is evaluated
 * once; a plain `IN (subquery)` may be re-planned and pick more than `max`), so concurrent
 * claimers in any number of controller processes each get different rows.
 */
export class PostgresSkipLockedQueue extends LeaseTableQueue {
  constructor(db: Kysely<ControllerTables>, settings: QueueSettings) {
    super('postgres-skip-locked', db, settings);
  }

  /**
   * One statement instead of begin / two inserts / commit (four round trips): a data-modifying
   * CTE runs in the statement's own transaction, so the task and its deliveries land together.
   */
  override async enqueueWithTask(task: MeshTaskRow, items: readonly NewDelivery[], now = Date.now()): Promise<void> {
    if (items.length === 0) {
      await this.db.insertInto('mesh_tasks').values(task).execute();
      return;
    }
    await this.db
      .with('task', (db) => db.insertInto('mesh_tasks').values(task))
      .insertInto('mesh_deliveries')
      .values(this.rows(items, now))
      .execute();
  }

  protected async claimRows(agentId: string, max: number, now: number, leaseId: string, until: number): Promise<MeshDeliveryRow[]> {
    const r = await sql<MeshDeliveryRow>`
      WITH picked AS (
        SELECT id FROM mesh_deliveries WHERE ${this.claimable(agentId, now)}
         ORDER BY created_at, id LIMIT ${max} FOR UPDATE SKIP LOCKED)
      UPDATE mesh_deliveries AS d
         SET state = 'leased', lease_id = ${leaseId}, lease_until = ${until}, attempts = d.attempts + 1, updated_at = ${now}
        FROM picked WHERE d.id = picked.id
      RETURNING d.*`.execute(this.db);
    return r.rows;
  }
}

/** The queue for a database: the lease table on SQLite, SKIP LOCKED claims on PostgreSQL. */
export function createTaskQueue(db: Kysely<ControllerTables>, dialect: ControllerDialect, settings: Partial<QueueSettings> = {}): TaskQueue {
  const s = { ...DEFAULT_QUEUE_SETTINGS, ...settings };
  return dialect === 'postgres' ? new PostgresSkipLockedQueue(db, s) : new SqliteLeaseQueue(db, s);
}
