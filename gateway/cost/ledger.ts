/**
 * The budget ledger: spent and reserved USD per (scope, window), kept in memory and seeded from
 * the usage store the first time a scope is seen in a window.
 *
 * Concurrency: check-and-reserve runs synchronously (no await between reading the headroom and
 * adding the reservation), so concurrent requests on Node's single thread can never both take
 * the same headroom. Each reservation is settled exactly once, to the actual cost, when the
 * request finishes (successfully or not).
 *
 * Windows are calendar days and months in UTC; a request's cost belongs to the window it
 * arrived in, exactly like the usage records' `ts` that the store sums.
 */
import type { ActiveBudget, BudgetWindow } from '../../policies/budgets.js';
import type { SpendScope } from '../../models/usage-store.js';

export function windowStart(window: BudgetWindow, now: number): number {
  const d = new Date(now);
  return window === 'daily' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

export function windowEnd(window: BudgetWindow, now: number): number {
  const d = new Date(now);
  return window === 'daily' ? Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1) : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

interface LedgerEntry {
  start: number;
  spentUsd: number;
  reservedUsd: number;
  /** Open reservations; at zero, reservedUsd is reset to exactly 0 so float drift cannot pile up. */
  open: number;
}

/** Where one budget stands right now. */
export interface BudgetStanding {
  budget: ActiveBudget;
  spentUsd: number;
  reservedUsd: number;
  /** limit − spent − reserved (may be negative when actual costs ran over an estimate). */
  remainingUsd: number;
  state: 'ok' | 'soft' | 'hard';
  /** Epoch ms when the window resets. */
  resetsAt: number;
}

export interface Reservation {
  readonly amountUsd: number;
  readonly parts: ReadonlyArray<{ entry: LedgerEntry; start: number }>;
  settled: boolean;
}

export type ReserveResult =
  | { ok: true; reservation: Reservation; standings: BudgetStanding[] }
  | { ok: false; blocking: BudgetStanding; standings: BudgetStanding[] };

/** Reads spend already recorded for a scope since a time (the usage store's spentSince). */
export type SpentSince = (scope: SpendScope, since: number) => number;

export class BudgetLedger {
  private readonly entries = new Map<string, LedgerEntry>();

  constructor(
    private readonly spentSince: SpentSince,
    private readonly now: () => number = Date.now,
  ) {}

  private entry(b: ActiveBudget, now: number): LedgerEntry {
    const key = `${b.scopeKey}|${b.window}`;
    const start = windowStart(b.window, now);
    let e = this.entries.get(key);
    if (!e || e.start !== start) {
      e = { start, spentUsd: this.spentSince(b.scope, start), reservedUsd: 0, open: 0 };
      this.entries.set(key, e);
    }
    return e;
  }

  private standing(b: ActiveBudget, e: LedgerEntry, now: number): BudgetStanding {
    const used = e.spentUsd + e.reservedUsd;
    return {
      budget: b,
      spentUsd: e.spentUsd,
      reservedUsd: e.reservedUsd,
      remainingUsd: b.limitUsd - used,
      state: used >= b.limitUsd ? 'hard' : used >= b.softLimitUsd ? 'soft' : 'ok',
      resetsAt: windowEnd(b.window, now),
    };
  }

  /** Current standing of each budget. */
  standings(budgets: readonly ActiveBudget[]): BudgetStanding[] {
    const now = this.now();
    return budgets.map((b) => this.standing(b, this.entry(b, now), now));
  }

  /**
   * Reserves `amountUsd` against every budget, or none if any budget lacks the headroom.
   * Synchronous on purpose: see the module comment.
   */
  reserve(budgets: readonly ActiveBudget[], amountUsd: number): ReserveResult {
    const now = this.now();
    const entries = budgets.map((b) => this.entry(b, now));
    const standings = budgets.map((b, i) => this.standing(b, entries[i]!, now));
    let blocking: BudgetStanding | undefined;
    for (const s of standings) {
      if (s.remainingUsd < amountUsd && (!blocking || s.remainingUsd < blocking.remainingUsd)) blocking = s;
    }
    if (blocking) return { ok: false, blocking, standings };
    for (const e of entries) {
      e.reservedUsd += amountUsd;
      e.open++;
    }
    return { ok: true, reservation: { amountUsd, parts: entries.map((entry) => ({ entry, start: entry.start })), settled: false }, standings };
  }

  /** Replaces the reservation with the actual cost. Idempotent. */
  settle(reservation: Reservation, actualUsd: number): void {
    if (reservation.settled) return;
    reservation.settled = true;
    for (const { entry, start } of reservation.parts) {
      // A window that rolled over meanwhile was re-seeded from the store; its new totals do
      // not include this reservation, and the cost is recorded in the old window.
      if (entry.start !== start) continue;
      entry.open--;
      entry.reservedUsd = entry.open === 0 ? 0 : Math.max(0, entry.reservedUsd - reservation.amountUsd);
      entry.spentUsd += actualUsd;
    }
  }
}
