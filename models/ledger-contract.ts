/**
 * What gateways and the controller's org ledger say to each other about money: the usage records
 * a gateway reports in its audit batches, and the budget leases it draws. Both sides import this
 * module; neither imports the other.
 */
import type { UsageRecord } from './usage-record.js';

/** Budget scopes of the org ledger, narrowest last in a lease's scope chain. */
export type LedgerScope = 'tenant' | 'department' | 'role' | 'user';
export const LEDGER_SCOPES: readonly LedgerScope[] = ['tenant', 'department', 'role', 'user'];

/** "tenant:acme", "department:finance", "role:finance", "user:alice". */
export function scopeKey(scope: LedgerScope, id: string): string {
  return `${scope}:${id}`;
}

/** A usage record as the controller keeps it: plus the caller's department and the reporting gateway. */
export interface LedgerEntry extends UsageRecord {
  department?: string;
  gatewayId?: string;
}

/** POST /api/v1/ledger/leases: draw an allowance for one caller of this gateway. */
export interface LeaseRequest {
  userId: string;
  role: string;
  /** Stable id of the asking gateway (its audit chain id), for the ledger and the lease list. */
  gatewayId: string;
  /** How much the gateway would like to hold. */
  amountUsd: number;
  /** The least that is useful (the request waiting on this lease); less than this is a refusal. */
  minUsd: number;
  /** Wanted lifetime; the controller may shorten it (never past the end of a budget window). */
  ttlMs: number;
}

export interface LeaseGrant {
  leaseId: string;
  /** Budget scope keys this lease was granted against, widest first. */
  scopes: string[];
  amountUsd: number;
  /** ISO-8601. */
  expiresAt: string;
}

/** POST /api/v1/ledger/leases/:leaseId/release: the gateway is done with a lease and spent this on it. */
export interface LeaseRelease {
  spentUsd: number;
}

const nonNegative = { type: 'number', minimum: 0 } as const;
const shortText = (max: number) => ({ type: 'string', minLength: 1, maxLength: max }) as const;

/** JSON schema of models/usage-record.ts UsageRecord (plus the optional lease id), checked at ingest. */
export const usageRecordSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'ts', 'tenantId', 'userId', 'role', 'route', 'modelRequested', 'modelUsed', 'promptTokens', 'completionTokens', 'cachedTokens', 'costUsd', 'estimated', 'latencyMs', 'status', 'cacheHit'],
  properties: {
    id: shortText(128),
    requestId: shortText(200),
    ts: { type: 'integer', minimum: 0 },
    tenantId: shortText(128),
    userId: shortText(256),
    role: shortText(128),
    sessionId: shortText(256),
    taskId: shortText(256),
    taskKind: shortText(200),
    route: { enum: ['chat', 'messages', 'responses', 'embeddings'] },
    modelRequested: { type: 'string', maxLength: 256 },
    modelUsed: { type: 'string', maxLength: 256 },
    promptTokens: { type: 'integer', minimum: 0 },
    completionTokens: { type: 'integer', minimum: 0 },
    cachedTokens: { type: 'integer', minimum: 0 },
    costUsd: nonNegative,
    estimated: { type: 'boolean' },
    latencyMs: nonNegative,
    status: { type: 'integer' },
    cacheHit: { type: 'boolean' },
    downshiftRule: shortText(200),
    downshiftReason: { type: 'string', maxLength: 1000 },
    baselineCostUsd: nonNegative,
    leaseId: shortText(128),
  },
} as const;

/** GET /api/v1/ledger/spend: the groupings, and one row of figures per key (CONTRACT-13). */
export const SPEND_GROUPINGS = ['day', 'department', 'role', 'user', 'model'] as const;
export type SpendGrouping = (typeof SPEND_GROUPINGS)[number];

export interface SpendTotals {
  costUsd: number;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  cacheHits: number;
  cacheSavingsUsd: number;
  downshifts: number;
  downshiftSavingsUsd: number;
}

export interface SpendRow extends SpendTotals {
  key: string;
}

export interface SpendReport {
  currency: 'USD';
  groupBy: SpendGrouping;
  from: string;
  to: string;
  timeZone: string;
  rows: SpendRow[];
  totals: SpendTotals;
}
