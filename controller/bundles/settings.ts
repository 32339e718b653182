/** Bundle signing settings, shared by the bundle routes and the keyring built in services.ts. */
export interface BundleRouteSettings {
  /** Lifetime of a signed bundle. Default 24 h; re-signed when half is left. */
  ttlMs?: number;
  /** How long a rotated-in key is published before it signs. Default 10 min. */
  publishLeadMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

export const DEFAULT_BUNDLE_TTL_MS = 24 * 3_600_000;
