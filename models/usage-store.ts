/**
 * Usage records in the gateway's SQLite database: one row per metered request, append-only.
 * The row id is made by the gateway (the caller's x-request-id is only kept in request_id), and
 * a trigger refuses any UPDATE, so no request can replace or rewrite recorded spend; rows leave
 * only by retention (purgeOlderThan).
 *
 * Writes are queued and flushed in one transaction per event-loop turn (setImmediate): finish
 * hooks never wait on disk, and a burst of N finishing requests costs one commit instead of N
 * (see bench/usage-store.ts for the numbers). Readers (budgets, the usage report, the rules
 * simulator) call `flush()` first or go through methods that do.
 */
import type { GatewayDb } from '../platform/sqlite.js';
import { migrate } from '../platform/sqlite.js';
import type { UsageRecord } from './usage-record.js';

const MIGRATIONS = [
  `CREATE TABLE usage_records (
     id TEXT PRIMARY KEY,
     ts INTEGER NOT NULL,
     tenant_id TEXT NOT NULL,
     user_id TEXT NOT NULL,
     role TEXT NOT NULL,
     session_id TEXT,
     task_id TEXT,
     task_kind TEXT,
     route TEXT NOT NULL,
     model_requested TEXT NOT NULL,
     model_used TEXT NOT NULL,
     prompt_tokens INTEGER NOT NULL,
     completion_tokens INTEGER NOT NULL,
     cached_tokens INTEGER NOT NULL,
     cost_usd REAL NOT NULL,
     estimated INTEGER NOT NULL,
     latency_ms REAL NOT NULL,
     status INTEGER NOT NULL,
     cache_hit INTEGER NOT NULL,
     downshift_rule TEXT,
     downshift_reason TEXT,
     baseline_cost_usd REAL
   );
   CREATE INDEX usage_records_ts ON usage_records (ts);
   CREATE INDEX usage_records_tenant_ts ON usage_records (tenant_id, ts);`,
  // v2: rows of older versions used the request id as row id; it is kept as request_id too.
  `ALTER TABLE usage_records ADD COLUMN request_id TEXT;
   UPDATE usage_records SET request_id = id;
   CREATE INDEX usage_records_request_id ON usage_records (request_id);
   CREATE TRIGGER usage_records_append_only BEFORE UPDATE ON usage_records
   BEGIN SELECT RAISE(ABORT, 'usage records are append-only'); END;`,
  // v3: org ledger — the budget lease a record was spent against, and the records still to be
  // reported to the controller (a queue, so retention purges never confuse what was shipped).
  `ALTER TABLE usage_records ADD COLUMN lease_id TEXT;
   CREATE TABLE usage_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL);`,
];

export const USAGE_GROUPINGS = ['day', 'role', 'user', 'model'] as const;
export type UsageGrouping = (typeof USAGE_GROUPINGS)[number];

/** Totals for one group of records (or for all of them). */
export interface UsageSummaryRow {
  key: string;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  costUsd: number;
  /** Requests whose tokens or cost are estimates. */
  estimatedRequests: number;
  cacheHits: number;
  /** What cache hits would have cost upstream. */
  cacheSavingsUsd: number;
  downshifts: number;
  /** Baseline (requested model) cost minus actual cost, over downshifted requests. */
  downshiftSavingsUsd: number;
}

/** Which spend a budget counts: the tenant's, a role's within it, or one user's. */
export type SpendScope =
  | { kind: 'tenant'; tenantId: string }
  | { kind: 'role'; tenantId: string; role: string }
  | { kind: 'user'; tenantId: string; userId: string };

interface UsageRow {
  id: string;
  request_id: string | null;
  ts: number;
  tenant_id: string;
  user_id: string;
  role: string;
  session_id: string | null;
  task_id: string | null;
  task_kind: string | null;
  route: string;
  model_requested: string;
  model_used: string;
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  cost_usd: number;
  estimated: number;
  latency_ms: number;
  status: number;
  cache_hit: number;
  downshift_rule: string | null;
  downshift_reason: string | null;
  baseline_cost_usd: number | null;
  lease_id: string | null;
}

const GROUP_EXPR: Record<UsageGrouping, string> = {
  day: "strftime('%Y-%m-%d', ts / 1000, 'unixepoch')",
  role: 'role',
  user: 'user_id',
  model: 'model_used',
};

/**
 * A downshift that happened: the substituted model answered. A request refused after the rule
 * matched (budget, upstream error) is not one, nor is a cache hit.
 */
const ANSWERED_DOWNSHIFT = 'downshift_rule IS NOT NULL AND cache_hit = 0 AND status >= 200 AND status < 400';

const SUMMARY_COLUMNS = `
  COUNT(*) AS requests,
  COALESCE(SUM(prompt_tokens), 0) AS promptTokens,
  COALESCE(SUM(completion_tokens), 0) AS completionTokens,
  COALESCE(SUM(cached_tokens), 0) AS cachedTokens,
  COALESCE(SUM(cost_usd), 0) AS costUsd,
  COALESCE(SUM(estimated), 0) AS estimatedRequests,
  COALESCE(SUM(cache_hit), 0) AS cacheHits,
  COALESCE(SUM(CASE WHEN cache_hit = 1 THEN MAX(COALESCE(baseline_cost_usd, 0) - cost_usd, 0) ELSE 0 END), 0) AS cacheSavingsUsd,
  COALESCE(SUM(CASE WHEN ${ANSWERED_DOWNSHIFT} THEN 1 ELSE 0 END), 0) AS downshifts,
  COALESCE(SUM(CASE WHEN ${ANSWERED_DOWNSHIFT} THEN MAX(COALESCE(baseline_cost_usd, cost_usd) - cost_usd, 0) ELSE 0 END), 0) AS downshiftSavingsUsd`;

export interface UsageQuery {
  /** Epoch ms, inclusive. */
  since: number;
  /** Epoch ms, exclusive; default: no upper bound. */
  until?: number;
  tenantId?: string;
}

function toRow(r: UsageRecord): UsageRow {
  return {
    id: r.id,
    request_id: r.requestId ?? null,
    ts: r.ts,
    tenant_id: r.tenantId,
    user_id: r.userId,
    role: r.role,
    session_id: r.sessionId ?? null,
    task_id: r.taskId ?? null,
    task_kind: r.taskKind ?? null,
    route: r.route,
    model_requested: r.modelRequested,
    model_used: r.modelUsed,
    prompt_tokens: r.promptTokens,
    completion_tokens: r.completionTokens,
    cached_tokens: r.cachedTokens,
    cost_usd: r.costUsd,
    estimated: r.estimated ? 1 : 0,
    latency_ms: r.latencyMs,
    status: r.status,
    cache_hit: r.cacheHit ? 1 : 0,
    downshift_rule: r.downshiftRule ?? null,
    downshift_reason: r.downshiftReason ?? null,
    baseline_cost_usd: r.baselineCostUsd ?? null,
    lease_id: r.leaseId ?? null,
  };
}

function fromRow(row: UsageRow): UsageRecord {
  return {
    id: row.id,
    ...(row.request_id !== null ? { requestId: row.request_id } : {}),
    ts: row.ts,
    tenantId: row.tenant_id,
    userId: row.user_id,
    role: row.role,
    ...(row.session_id !== null ? { sessionId: row.session_id } : {}),
    ...(row.task_id !== null ? { taskId: row.task_id } : {}),
    ...(row.task_kind !== null ? { taskKind: row.task_kind } : {}),
    route: row.route as UsageRecord['route'],
    modelRequested: row.model_requested,
    modelUsed: row.model_used,
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
    cachedTokens: row.cached_tokens,
    costUsd: row.cost_usd,
    estimated: row.estimated === 1,
    latencyMs: row.latency_ms,
    status: row.status,
    cacheHit: row.cache_hit === 1,
    ...(row.downshift_rule !== null ? { downshiftRule: row.downshift_rule } : {}),
    ...(row.downshift_reason !== null ? { downshiftReason: row.downshift_reason } : {}),
    ...(row.baseline_cost_usd !== null ? { baselineCostUsd: row.baseline_cost_usd } : {}),
    ...(row.lease_id !== null ? { leaseId: row.lease_id } : {}),
  };
}

export interface UsageStoreOptions {
  /** Write each record at once instead of batching per event-loop turn (benchmarks compare both). */
  batch?: boolean;
  /** Called when a batched write fails (records are lost; the gateway keeps serving). */
  onWriteError?: (err: unknown, lost: number) => void;
}

/** Records waiting to be reported to the controller, and the mark to acknowledge them with. */
export interface UsageOutboxBatch {
  records: UsageRecord[];
  /** Outbox position of the last record; pass to `markReported`. */
  upTo: number;
}

export class UsageStore {
  private queue: UsageRow[] = [];
  private scheduled: NodeJS.Immediate | undefined;
  private readonly insert;
  private readonly insertMany;
  private readonly batch: boolean;

  constructor(
    private readonly db: GatewayDb,
    private readonly opts: UsageStoreOptions = {},
  ) {
    migrate(db, 'usage', MIGRATIONS);
    this.batch = opts.batch ?? true;
    // A plain INSERT: a repeated id fails loudly instead of replacing a row.
    this.insert = db.prepare(
      `INSERT INTO usage_records (id, request_id, ts, tenant_id, user_id, role, session_id, task_id, task_kind, route,
        model_requested, model_used, prompt_tokens, completion_tokens, cached_tokens, cost_usd, estimated, latency_ms,
        status, cache_hit, downshift_rule, downshift_reason, baseline_cost_usd, lease_id)
       VALUES (@id, @request_id, @ts, @tenant_id, @user_id, @role, @session_id, @task_id, @task_kind, @route,
        @model_requested, @model_used, @prompt_tokens, @completion_tokens, @cached_tokens, @cost_usd, @estimated, @latency_ms,
        @status, @cache_hit, @downshift_rule, @downshift_reason, @baseline_cost_usd, @lease_id)`,
    );
    const enqueue = db.prepare('INSERT INTO usage_outbox (record_id) VALUES (?)');
    this.insertMany = db.transaction((rows: UsageRow[]) => {
      for (const row of rows) {
        this.insert.run(row);
        if (this.reporting) enqueue.run(row.id);
      }
    });
  }

  /** From now on every new record is also queued for the controller (gateways linked to one). */
  private reporting = false;

  reportToController(): void {
    this.reporting = true;
  }

  /** Up to `limit` records not yet acknowledged by the controller, oldest first. */
  unreported(limit: number): UsageOutboxBatch {
    this.flush();
    const rows = this.db
      .prepare('SELECT o.seq AS seq, r.* FROM usage_outbox o JOIN usage_records r ON r.id = o.record_id ORDER BY o.seq LIMIT ?')
      .all(limit) as Array<UsageRow & { seq: number }>;
    const last = rows[rows.length - 1];
    if (!last) {
      // Records purged by retention before they were reported leave dangling outbox rows.
      this.db.prepare('DELETE FROM usage_outbox WHERE record_id NOT IN (SELECT id FROM usage_records)').run();
    }
    return { records: rows.map(({ seq: _seq, ...row }) => fromRow(row)), upTo: last?.seq ?? 0 };
  }

  /** The controller stored everything up to this outbox position. */
  markReported(upTo: number): void {
    this.db.prepare('DELETE FROM usage_outbox WHERE seq <= ?').run(upTo);
  }

  /** Queues one record; it is committed with the others finishing in the same turn. */
  record(r: UsageRecord): void {
    const row = toRow(r);
    if (!this.batch) {
      this.insertMany([row]);
      return;
    }
    this.queue.push(row);
    this.scheduled ??= setImmediate(() => {
      this.scheduled = undefined;
      try {
        this.flush();
      } catch (err) {
        this.opts.onWriteError?.(err, 0);
      }
    });
  }

  /** Commits queued records now. */
  flush(): void {
    if (this.queue.length === 0) return;
    const rows = this.queue;
    this.queue = [];
    try {
      this.insertMany(rows);
    } catch (err) {
      this.opts.onWriteError?.(err, rows.length);
      throw err;
    }
  }

  pending(): number {
    return this.queue.length;
  }

  /** Sum of cost_usd for a scope since `since` (epoch ms). */
  spentSince(scope: SpendScope, since: number): number {
    this.flush();
    let sql = 'SELECT COALESCE(SUM(cost_usd), 0) AS spent FROM usage_records WHERE tenant_id = ? AND ts >= ?';
    const args: Array<string | number> = [scope.tenantId, since];
    if (scope.kind === 'role') {
      sql += ' AND role = ?';
      args.push(scope.role);
    } else if (scope.kind === 'user') {
      sql += ' AND user_id = ?';
      args.push(scope.userId);
    }
    return (this.db.prepare(sql).get(...args) as { spent: number }).spent;
  }

  private where(q: UsageQuery): { sql: string; args: Array<string | number> } {
    let sql = 'WHERE ts >= ?';
    const args: Array<string | number> = [q.since];
    if (q.until !== undefined) {
      sql += ' AND ts < ?';
      args.push(q.until);
    }
    if (q.tenantId !== undefined) {
      sql += ' AND tenant_id = ?';
      args.push(q.tenantId);
    }
    return { sql, args };
  }

  /** Totals grouped by day (UTC), role, user or model used, sorted by key. */
  summarize(q: UsageQuery, by: UsageGrouping): UsageSummaryRow[] {
    this.flush();
    const w = this.where(q);
    const expr = GROUP_EXPR[by];
    return this.db
      .prepare(`SELECT ${expr} AS key, ${SUMMARY_COLUMNS} FROM usage_records ${w.sql} GROUP BY ${expr} ORDER BY ${expr}`)
      .all(...w.args) as UsageSummaryRow[];
  }

  /** Totals over every record matching the query. */
  total(q: UsageQuery): UsageSummaryRow {
    this.flush();
    const w = this.where(q);
    return this.db.prepare(`SELECT 'total' AS key, ${SUMMARY_COLUMNS} FROM usage_records ${w.sql}`).get(...w.args) as UsageSummaryRow;
  }

  /** Every record matching the query, oldest first, read lazily (for the rules simulator). */
  *records(q: UsageQuery): IterableIterator<UsageRecord> {
    this.flush();
    const w = this.where(q);
    for (const row of this.db.prepare(`SELECT * FROM usage_records ${w.sql} ORDER BY ts, rowid`).iterate(...w.args)) {
      yield fromRow(row as UsageRow);
    }
  }

  /** Deletes records older than `cutoff` (epoch ms); returns how many. */
  purgeOlderThan(cutoff: number): number {
    this.flush();
    return this.db.prepare('DELETE FROM usage_records WHERE ts < ?').run(cutoff).changes;
  }

  /** Commits what is queued; the database itself is closed by its owner. */
  close(): void {
    if (this.scheduled) clearImmediate(this.scheduled);
    this.scheduled = undefined;
    this.flush();
  }
}
