/** Row types of the org ledger's tables (controller/ledger/migrations.ts). */
import type { EpochMs } from '../storage/schema.js';

export interface LedgerEntryRow {
  id: string;
  tenant_id: string;
  ts: EpochMs;
  user_id: string;
  role: string;
  department: string | null;
  gateway_id: string | null;
  lease_id: string | null;
  model_used: string;
  cost_usd: number;
  baseline_cost_usd: number | null;
  prompt_tokens: number;
  completion_tokens: number;
  cache_hit: number;
  /** 1 when a downshift rule's substitute model answered. */
  downshifted: number;
  /** What a cache hit would have cost upstream (0 otherwise). */
  cache_savings_usd: number;
  /** Baseline minus actual cost of an answered downshift (0 otherwise). */
  downshift_savings_usd: number;
  /** The whole LedgerEntry as JSON (what /ledger/entries and the simulator read). */
  record: string;
  received_at: EpochMs;
}

export interface LedgerBudgetRow {
  tenant_id: string;
  scope: string;
  scope_id: string;
  window: string;
  limit_usd: number;
  updated_at: EpochMs;
}

export interface LedgerTenantRow {
  tenant_id: string;
  time_zone: string;
  updated_at: EpochMs;
}

export interface LedgerLeaseRow {
  id: string;
  tenant_id: string;
  gateway_id: string;
  /** Token subject that drew the lease; only it may release it. */
  holder: string;
  user_id: string;
  role: string;
  department: string | null;
  /** JSON array of scope keys ("tenant:acme", "role:finance", ...). */
  scopes: string;
  amount_usd: number;
  /** Spend the gateway has reported against this lease so far (its usage records' costs). */
  reported_usd: number;
  /** What the gateway says it spent in all, once it released the lease. */
  final_spent_usd: number | null;
  created_at: EpochMs;
  expires_at: EpochMs;
  released_at: EpochMs | null;
  /** 1 once the lease holds nothing back any more (settled, or expired past the grace). */
  closed: number;
}

declare module '../storage/schema.js' {
  interface ControllerTables {
    ledger_entries: LedgerEntryRow;
    ledger_budgets: LedgerBudgetRow;
    ledger_tenants: LedgerTenantRow;
    ledger_leases: LedgerLeaseRow;
  }
}
