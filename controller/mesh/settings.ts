/** Timings of the agent mesh; defaults for production, tests shrink them. */
export interface MeshSettings {
  heartbeatIntervalMs: number;
  /** No heartbeat and no work poll for this long → offline. */
  offlineAfterMs: number;
  /** Waiting long-polls / SSE streams re-check the queue this often (work queued by another process, expired leases). */
  repollMs: number;
  /**
   * The same while other processes' work is announced to this one (PostgreSQL LISTEN/NOTIFY) and
   * expired leases are announced by the sweeper: then a re-check is only a safety net.
   */
  notifiedRepollMs: number;
  /** How long a delivered item stays leased to its worker without progress. */
  leaseMs: number;
  maxAttempts: number;
  /** How often lease reaping and approval deadlines are checked. */
  sweepMs: number;
  /** Approval window when the request gives no deadline. */
  defaultApprovalWindowMs: number;
}

export const DEFAULT_MESH_SETTINGS: MeshSettings = {
  heartbeatIntervalMs: 10_000,
  offlineAfterMs: 30_000,
  repollMs: 1_000,
  notifiedRepollMs: 10_000,
  leaseMs: 60_000,
  maxAttempts: 5,
  sweepMs: 1_000,
  defaultApprovalWindowMs: 60 * 60_000,
};
