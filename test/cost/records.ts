/** Usage records for tests: sensible defaults, override what the test is about. */
import type { UsageRecord } from '../../models/usage-record.js';

/** 2026-11-20 12:00 UTC */
export const T0 = Date.UTC(2026, 10, 20, 12);

export function usageRecord(over: Partial<UsageRecord> & { id: string }): UsageRecord {
  return {
    ts: T0,
    tenantId: 'acme',
    userId: 'alice',
    role: 'engineering',
    route: 'chat',
    modelRequested: 'anthropic/claude-sonnet-4',
    modelUsed: 'anthropic/claude-sonnet-4',
    promptTokens: 100,
    completionTokens: 10,
    cachedTokens: 0,
    costUsd: 0.01,
    estimated: false,
    latencyMs: 50,
    status: 200,
    cacheHit: false,
    ...over,
  };
}
