/**
 * The org ledger: every usage record the gateways report (one entry per record id, so a re-sent
 * batch never counts twice), the org's budgets per tenant, department, role and user with day
 * and month windows in the tenant's time zone, and the budget leases gateways spend locally.
 *
 * The bound: a lease is granted only from what is left of every budget in its scope chain,
 * left = limit − spent (entries in the window) − outstanding leases. A lease holds back
 *   open:     amount − reported spend against it
 *   released: the spend the gateway says it made − reported (until its records arrive)
 *   expired and not released: like open, for `settleGraceMs` after expiry (in-flight requests
 *     and records still on their way), then nothing.
 * Grants, releases and ingests of one tenant run one at a time (they lock the tenant's row in
 * ledger_tenants on PostgreSQL; SQLite runs one transaction at a time anyway), so two gateways
 * can never both be granted the same headroom.
 */
import { randomUUID } from 'node:crypto';
import { sql, type Kysely, type Transaction } from 'kysely';
import type { ControllerTables } from '../storage/schema.js';
import type { ControllerDialect } from '../storage/database.js';
import type { UsageRecord } from '../../models/usage-record.js';
import { scopeKey, type LeaseGrant, type LeaseRequest, type LedgerEntry, type LedgerScope, type SpendGrouping, type SpendRow, type SpendTotals } from '../../models/ledger-contract.js';
import { DEFAULT_TIME_ZONE, localDay, windowBounds, type LedgerWindow } from '../../models/budget-windows.js';
import type { LedgerLeaseRow } from './schema.js';
import './schema.js';

type Db = Kysely<ControllerTables>;
type Trx = Transaction<ControllerTables>;

export interface BudgetDefinition {
  scope: LedgerScope;
  id: string;
  window: LedgerWindow;
  limitUsd: number;
}

export interface BudgetStanding extends BudgetDefinition {
  timeZone: string;
  spentUsd: number;
  leasedOutstandingUsd: number;
  windowStart: number;
  windowEnd: number;
  /** Spend so far, extended linearly to the end of the window. */
  projectedUsd: number;
}

export type GrantResult = { ok: true; grant: LeaseGrant } | { ok: false; blocking: BudgetStanding; availableUsd: number };

export interface LedgerSettings {
  /** How long an expired, unreleased lease still holds back its unreported amount. */
  settleGraceMs: number;
  /** Longest lease the controller grants. */
  maxLeaseTtlMs: number;
}

export const DEFAULT_LEDGER_SETTINGS: LedgerSettings = { settleGraceMs: 60_000, maxLeaseTtlMs: 15 * 60_000 };

export class UnknownLeaseError extends Error {
  override name = 'UnknownLeaseError';
}

export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError';
}

/** Column of ledger_entries a budget scope counts by. */
const SCOPE_COLUMN = { tenant: 'tenant_id', department: 'department', role: 'role', user: 'user_id' } as const;

/** All IANA offsets are whole quarter hours, so quarter-hour buckets map exactly onto local days. */
const QUARTER_HOUR_MS = 900_000;

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

function toEntryRow(tenant: string, r: UsageRecord, department: string | undefined, gatewayId: string, now: number) {
  const answered = r.status >= 200 && r.status < 400;
  const downshifted = r.downshiftRule !== undefined && !r.cacheHit && answered;
  const entry: LedgerEntry = { ...r, ...(department ? { department } : {}), gatewayId };
  return {
    id: r.id,
    tenant_id: tenant,
    ts: r.ts,
    user_id: r.userId,
    role: r.role,
    department: department ?? null,
    gateway_id: gatewayId,
    lease_id: r.leaseId ?? null,
    model_used: r.modelUsed,
    cost_usd: r.costUsd,
    baseline_cost_usd: r.baselineCostUsd ?? null,
    prompt_tokens: r.promptTokens,
    completion_tokens: r.completionTokens,
    cache_hit: r.cacheHit ? 1 : 0,
    downshifted: downshifted ? 1 : 0,
    cache_savings_usd: r.cacheHit ? Math.max(0, (r.baselineCostUsd ?? 0) - r.costUsd) : 0,
    downshift_savings_usd: downshifted ? Math.max(0, (r.baselineCostUsd ?? r.costUsd) - r.costUsd) : 0,
    record: JSON.stringify(entry),
    received_at: now,
  };
}

export class LedgerRepository {
  readonly settings: LedgerSettings;

  constructor(
    private readonly db: Db,
    private readonly dialect: ControllerDialect,
    settings: Partial<LedgerSettings> = {},
  ) {
    this.settings = { ...DEFAULT_LEDGER_SETTINGS, ...settings };
  }

  // ---- tenant settings and budgets ------------------------------------------------------------

  async timeZone(tenant: string): Promise<string> {
    const row = await this.db.selectFrom('ledger_tenants').select('time_zone').where('tenant_id', '=', tenant).executeTakeFirst();
    return row?.time_zone ?? DEFAULT_TIME_ZONE;
  }

  /** The caller validated `timeZone` (models/budget-windows.ts isValidTimeZone). */
  async setTimeZone(tenant: string, timeZone: string, now = Date.now()): Promise<void> {
    await this.db
      .insertInto('ledger_tenants')
      .values({ tenant_id: tenant, time_zone: timeZone, updated_at: now })
      .onConflict((oc) => oc.column('tenant_id').doUpdateSet({ time_zone: timeZone, updated_at: now }))
      .execute();
  }

  async setBudget(tenant: string, b: BudgetDefinition, now = Date.now()): Promise<void> {
    await this.db
      .insertInto('ledger_budgets')
      .values({ tenant_id: tenant, scope: b.scope, scope_id: b.id, window: b.window, limit_usd: b.limitUsd, updated_at: now })
      .onConflict((oc) => oc.columns(['tenant_id', 'scope', 'scope_id', 'window']).doUpdateSet({ limit_usd: b.limitUsd, updated_at: now }))
      .execute();
  }

  /** True when there was such a budget. */
  async deleteBudget(tenant: string, scope: LedgerScope, id: string, window: LedgerWindow): Promise<boolean> {
    const r = await this.db
      .deleteFrom('ledger_budgets')
      .where('tenant_id', '=', tenant)
      .where('scope', '=', scope)
      .where('scope_id', '=', id)
      .where('window', '=', window)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  private async budgets(db: Db | Trx, tenant: string): Promise<BudgetDefinition[]> {
    const rows = await db.selectFrom('ledger_budgets').selectAll().where('tenant_id', '=', tenant).orderBy('scope').orderBy('scope_id').orderBy('window').execute();
    return rows.map((r) => ({ scope: r.scope as LedgerScope, id: r.scope_id, window: r.window as LedgerWindow, limitUsd: Number(r.limit_usd) }));
  }

  // ---- locking and lease holds ----------------------------------------------------------------

  /** Serialises ledger writes of one tenant (see the module comment). */
  private async lockTenant(trx: Trx, tenant: string, now: number): Promise<string> {
    await trx
      .insertInto('ledger_tenants')
      .values({ tenant_id: tenant, time_zone: DEFAULT_TIME_ZONE, updated_at: now })
      .onConflict((oc) => oc.column('tenant_id').doNothing())
      .execute();
    let q = trx.selectFrom('ledger_tenants').select('time_zone').where('tenant_id', '=', tenant);
    if (this.dialect === 'postgres') q = q.forUpdate();
    const row = await q.executeTakeFirstOrThrow();
    return row.time_zone;
  }

  private hold(l: LedgerLeaseRow, now: number): number {
    const reported = Number(l.reported_usd);
    if (l.released_at !== null) return Math.max(0, Number(l.final_spent_usd ?? 0) - reported);
    if (now >= Number(l.expires_at) + this.settings.settleGraceMs) return 0;
    return Math.max(0, Number(l.amount_usd) - reported);
  }

  /** Open leases with what each still holds back; closes the ones that hold nothing any more. */
  private async openLeases(db: Db | Trx, tenant: string, now: number, closeSpent: boolean): Promise<Array<{ scopes: string[]; hold: number }>> {
    const rows = await db.selectFrom('ledger_leases').selectAll().where('tenant_id', '=', tenant).where('closed', '=', 0).execute();
    const done: string[] = [];
    const out: Array<{ scopes: string[]; hold: number }> = [];
    for (const l of rows) {
      const hold = this.hold(l, now);
      const finished = l.released_at !== null || now >= Number(l.expires_at) + this.settings.settleGraceMs;
      if (hold === 0 && finished) done.push(l.id);
      else out.push({ scopes: JSON.parse(l.scopes) as string[], hold });
    }
    if (closeSpent && done.length > 0) await db.updateTable('ledger_leases').set({ closed: 1 }).where('id', 'in', done).execute();
    return out;
  }

  private async spentIn(db: Db | Trx, tenant: string, b: { scope: LedgerScope; id: string }, start: number, end: number): Promise<number> {
    const row = await db
      .selectFrom('ledger_entries')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<number>('cost_usd'), sql<number>`0`).as('spent'))
      .where('tenant_id', '=', tenant)
      .where(SCOPE_COLUMN[b.scope], '=', b.id)
      .where('ts', '>=', start)
      .where('ts', '<', end)
      .executeTakeFirst();
    return num(row?.spent);
  }

  private async standingsWith(db: Db | Trx, tenant: string, budgets: readonly BudgetDefinition[], timeZone: string, now: number, leases: ReadonlyArray<{ scopes: string[]; hold: number }>): Promise<BudgetStanding[]> {
    const out: BudgetStanding[] = [];
    for (const b of budgets) {
      const { start, end } = windowBounds(b.window, now, timeZone);
      const spentUsd = await this.spentIn(db, tenant, b, start, end);
      const key = scopeKey(b.scope, b.id);
      const leasedOutstandingUsd = leases.reduce((sum, l) => (l.scopes.includes(key) ? sum + l.hold : sum), 0);
      const elapsed = Math.max(1, Math.min(now, end) - start);
      out.push({ ...b, timeZone, spentUsd, leasedOutstandingUsd, windowStart: start, windowEnd: end, projectedUsd: (spentUsd * (end - start)) / elapsed });
    }
    return out;
  }

  /** Every budget of the tenant with its spend, outstanding leases and projection. */
  async standings(tenant: string, now = Date.now()): Promise<BudgetStanding[]> {
    const [timeZone, budgets, leases] = await Promise.all([this.timeZone(tenant), this.budgets(this.db, tenant), this.openLeases(this.db, tenant, now, false)]);
    return this.standingsWith(this.db, tenant, budgets, timeZone, now, leases);
  }

  // ---- leases ---------------------------------------------------------------------------------

  /**
   * Grants min(amountUsd, what is left in every budget of the caller's scope chain), or refuses
   * when less than minUsd is left. Budgets that do not exist do not limit.
   */
  async grant(tenant: string, holder: string, req: LeaseRequest & { department?: string }, now = Date.now()): Promise<GrantResult> {
    return this.db.transaction().execute(async (trx) => {
      const timeZone = await this.lockTenant(trx, tenant, now);
      const chain: Array<{ scope: LedgerScope; id: string }> = [
        { scope: 'tenant', id: tenant },
        ...(req.department ? [{ scope: 'department' as const, id: req.department }] : []),
        { scope: 'role', id: req.role },
        { scope: 'user', id: req.userId },
      ];
      const all = await this.budgets(trx, tenant);
      const applying = all.filter((b) => chain.some((c) => c.scope === b.scope && c.id === b.id));
      const leases = await this.openLeases(trx, tenant, now, true);
      const standings = await this.standingsWith(trx, tenant, applying, timeZone, now, leases);
      let available = Number.POSITIVE_INFINITY;
      let blocking: BudgetStanding | undefined;
      let expiresAt = now + Math.min(req.ttlMs, this.settings.maxLeaseTtlMs);
      for (const s of standings) {
        const left = s.limitUsd - s.spentUsd - s.leasedOutstandingUsd;
        if (left < available) {
          available = left;
          blocking = s;
        }
        // Never across a window boundary: the lease was granted from this window's budget.
        expiresAt = Math.min(expiresAt, s.windowEnd);
      }
      if (blocking && (available <= 0 || available < req.minUsd)) return { ok: false as const, blocking, availableUsd: Math.max(0, available) };
      const amountUsd = Math.min(req.amountUsd, available);
      const leaseId = `lease-${randomUUID()}`;
      const scopes = chain.map((c) => scopeKey(c.scope, c.id));
      await trx
        .insertInto('ledger_leases')
        .values({
          id: leaseId,
          tenant_id: tenant,
          gateway_id: req.gatewayId,
          holder,
          user_id: req.userId,
          role: req.role,
          department: req.department ?? null,
          scopes: JSON.stringify(scopes),
          amount_usd: amountUsd,
          reported_usd: 0,
          final_spent_usd: null,
          created_at: now,
          expires_at: expiresAt,
          released_at: null,
          closed: 0,
        })
        .execute();
      return { ok: true as const, grant: { leaseId, scopes, amountUsd, expiresAt: new Date(expiresAt).toISOString() } };
    });
  }

  /** The gateway is done with a lease; it holds back only spend not yet reported from now on. */
  async release(tenant: string, holder: string, leaseId: string, spentUsd: number, now = Date.now()): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await this.lockTenant(trx, tenant, now);
      const lease = await trx.selectFrom('ledger_leases').select(['holder', 'released_at']).where('id', '=', leaseId).where('tenant_id', '=', tenant).executeTakeFirst();
      if (!lease || lease.holder !== holder) throw new UnknownLeaseError(`no lease ${leaseId} held by this caller`);
      if (lease.released_at !== null) return;
      await trx.updateTable('ledger_leases').set({ released_at: now, final_spent_usd: spentUsd }).where('id', '=', leaseId).execute();
    });
  }

  // ---- entries --------------------------------------------------------------------------------

  /**
   * Stores reported usage records (idempotent by record id) and counts each new one against its
   * lease. `departmentOf` looks a user's department up in the directory.
   */
  async ingest(
    tenant: string,
    records: readonly UsageRecord[],
    opts: { gatewayId: string; departmentOf: (userId: string) => Promise<string | undefined> },
    now = Date.now(),
  ): Promise<{ accepted: number; duplicates: number }> {
    if (records.length === 0) return { accepted: 0, duplicates: 0 };
    const departments = new Map<string, string | undefined>();
    for (const r of records) if (!departments.has(r.userId)) departments.set(r.userId, await opts.departmentOf(r.userId));
    return this.db.transaction().execute(async (trx) => {
      await this.lockTenant(trx, tenant, now);
      let accepted = 0;
      for (const r of records) {
        const res = await trx
          .insertInto('ledger_entries')
          .values(toEntryRow(tenant, r, departments.get(r.userId), opts.gatewayId, now))
          .onConflict((oc) => oc.column('id').doNothing())
          .executeTakeFirst();
        if (Number(res.numInsertedOrUpdatedRows ?? 0n) === 0) continue;
        accepted++;
        if (r.leaseId && r.costUsd > 0) {
          await trx
            .updateTable('ledger_leases')
            .set((eb) => ({ reported_usd: eb('reported_usd', '+', r.costUsd) }))
            .where('id', '=', r.leaseId)
            .where('tenant_id', '=', tenant)
            .execute();
        }
      }
      return { accepted, duplicates: records.length - accepted };
    });
  }

  /** One page of entries, oldest first. */
  async entries(tenant: string, q: { from?: number; to?: number; role?: string; limit: number; cursor?: string }): Promise<{ entries: LedgerEntry[]; nextCursor?: string }> {
    let query = this.db.selectFrom('ledger_entries').select(['id', 'ts', 'record']).where('tenant_id', '=', tenant);
    if (q.from !== undefined) query = query.where('ts', '>=', q.from);
    if (q.to !== undefined) query = query.where('ts', '<', q.to);
    if (q.role !== undefined) query = query.where('role', '=', q.role);
    if (q.cursor !== undefined) {
      const after = decodeCursor(q.cursor);
      query = query.where((eb) => eb.or([eb('ts', '>', after.ts), eb.and([eb('ts', '=', after.ts), eb('id', '>', after.id)])]));
    }
    const rows = await query.orderBy('ts').orderBy('id').limit(q.limit + 1).execute();
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      entries: page.map((r) => JSON.parse(r.record) as LedgerEntry),
      ...(rows.length > q.limit && last ? { nextCursor: encodeCursor(Number(last.ts), last.id) } : {}),
    };
  }

  /** Every entry in range, oldest first, read page by page (for the rules simulator). */
  async *allEntries(tenant: string, q: { from?: number; to?: number; role?: string }): AsyncGenerator<LedgerEntry> {
    let cursor: string | undefined;
    do {
      const page = await this.entries(tenant, { ...q, limit: 1000, ...(cursor ? { cursor } : {}) });
      yield* page.entries;
      cursor = page.nextCursor;
    } while (cursor);
  }

  /** Spend in [from, to) grouped by day (in `timeZone`), department, role, user or model. */
  async spend(tenant: string, q: { from: number; to: number; groupBy: SpendGrouping; timeZone: string }): Promise<{ rows: SpendRow[]; totals: SpendTotals }> {
    const keyExpr = {
      day: sql<string>`ts / ${sql.lit(QUARTER_HOUR_MS)}`,
      department: sql<string>`coalesce(department, '(none)')`,
      role: sql<string>`role`,
      user: sql<string>`user_id`,
      model: sql<string>`model_used`,
    }[q.groupBy];
    const rows = await this.db
      .selectFrom('ledger_entries')
      .select([
        keyExpr.as('k'),
        sql<number>`sum(cost_usd)`.as('costUsd'),
        sql<number>`count(*)`.as('requests'),
        sql<number>`sum(prompt_tokens)`.as('promptTokens'),
        sql<number>`sum(completion_tokens)`.as('completionTokens'),
        sql<number>`sum(cache_hit)`.as('cacheHits'),
        sql<number>`sum(cache_savings_usd)`.as('cacheSavingsUsd'),
        sql<number>`sum(downshifted)`.as('downshifts'),
        sql<number>`sum(downshift_savings_usd)`.as('downshiftSavingsUsd'),
      ])
      .where('tenant_id', '=', tenant)
      .where('ts', '>=', q.from)
      .where('ts', '<', q.to)
      .groupBy(keyExpr)
      .execute();
    const groups = new Map<string, SpendRow>();
    const totals = emptyTotals();
    for (const r of rows) {
      const key = q.groupBy === 'day' ? localDay(num(r.k) * QUARTER_HOUR_MS, q.timeZone) : String(r.k);
      const g = groups.get(key) ?? { key, ...emptyTotals() };
      for (const t of [g, totals]) {
        t.costUsd += num(r.costUsd);
        t.requests += num(r.requests);
        t.promptTokens += num(r.promptTokens);
        t.completionTokens += num(r.completionTokens);
        t.cacheHits += num(r.cacheHits);
        t.cacheSavingsUsd += num(r.cacheSavingsUsd);
        t.downshifts += num(r.downshifts);
        t.downshiftSavingsUsd += num(r.downshiftSavingsUsd);
      }
      groups.set(key, g);
    }
    const list = [...groups.values()];
    if (q.groupBy === 'day') list.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    else list.sort((a, b) => b.costUsd - a.costUsd || (a.key < b.key ? -1 : 1));
    return { rows: list, totals };
  }

  /** Sum of reported spend and of what open leases hold back (tests measure the bound with it). */
  async totals(tenant: string, now = Date.now()): Promise<{ spentUsd: number; outstandingUsd: number; leases: number }> {
    const spent = await this.db.selectFrom('ledger_entries').select(sql<number>`coalesce(sum(cost_usd), 0)`.as('s')).where('tenant_id', '=', tenant).executeTakeFirst();
    const leases = await this.openLeases(this.db, tenant, now, false);
    const count = await this.db.selectFrom('ledger_leases').select(sql<number>`count(*)`.as('n')).where('tenant_id', '=', tenant).executeTakeFirst();
    return { spentUsd: num(spent?.s), outstandingUsd: leases.reduce((s, l) => s + l.hold, 0), leases: num(count?.n) };
  }
}

function emptyTotals(): SpendTotals {
  return { costUsd: 0, requests: 0, promptTokens: 0, completionTokens: 0, cacheHits: 0, cacheSavingsUsd: 0, downshifts: 0, downshiftSavingsUsd: 0 };
}

function encodeCursor(ts: number, id: string): string {
  return Buffer.from(JSON.stringify([ts, id])).toString('base64url');
}

function decodeCursor(cursor: string): { ts: number; id: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') return { ts: v[0] as number, id: v[1] };
  } catch {
    // fall through
  }
  throw new InvalidCursorError('cursor is not one this server made (pass nextCursor from the previous page)');
}
