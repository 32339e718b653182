/** One metered request, as stored by the usage store and replayed by the rules simulator. */
export interface UsageRecord {
  /** Made by the gateway, unique per record (records are append-only). */
  id: string;
  /** The request's x-request-id (the caller's when it sent a valid one), to join with logs. */
  requestId?: string;
  /** Epoch milliseconds when the request arrived. */
  ts: number;
  tenantId: string;
  userId: string;
  role: string;
  sessionId?: string;
  taskId?: string;
  /** Task kind if known: "chat", "summary", "title", "compaction", "permission", or a header value. */
  taskKind?: string;
  route: 'chat' | 'messages' | 'responses' | 'embeddings';
  modelRequested: string;
  modelUsed: string;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  costUsd: number;
  /** True when cost or tokens are estimates, not upstream-reported. */
  estimated: boolean;
  latencyMs: number;
  status: number;
  cacheHit: boolean;
  /** Rule id and reason when the model was substituted. */
  downshiftRule?: string;
  downshiftReason?: string;
  /** Cost the request would have had without downshift/cache (for savings reports). */
  baselineCostUsd?: number;
  /** The controller budget lease this request was spent against (org budgets, docs/budgets.md). */
  leaseId?: string;
}
