/**
 * `controller:` section of switchboard.yaml — how this gateway talks to its org controller:
 * where it is, how to authenticate, how often to poll for the signed policy bundle, how audit
 * events are shipped. Absent section = standalone gateway (built-in policy, local audit only).
 */
export interface ControllerLinkConfig {
  /** Controller base URL, e.g. https://controller.acme.internal:8788 */
  url: string;
  /** Allow a plain-http URL to a non-loopback controller (tokens and bundles then travel in clear). */
  insecure?: boolean;
  /** Environment variable holding the controller access token. */
  tokenEnv?: string;
  /** File (relative to the data dir, or absolute) holding the controller access token. */
  tokenFile?: string;
  /** PEM file (relative to the data dir, or absolute) of a private CA that signed the controller's certificate. */
  caFile?: string;
  bundles: {
    /** How often to ask for a newer bundle (If-None-Match polling). */
    pollIntervalMs: number;
    requestTimeoutMs: number;
    /** How often the bundle keys are fetched again (keys removed by the controller stop being trusted). */
    keyRefreshMs: number;
    /** After a bundle's exp plus this, the gateway falls back to the safe default policy (mask every class). */
    expiryGraceMs: number;
  };
  audit: {
    /** Events per ingest request. */
    batchSize: number;
    /** How often the shipper looks for unshipped events when idle. */
    flushIntervalMs: number;
    /** Longest wait between retries while the controller is unreachable. */
    maxBackoffMs: number;
    /** Shipped events are kept in the local spool this long. */
    localRetentionDays: number;
  };
}

export type ControllerLinkInput = Partial<Omit<ControllerLinkConfig, 'bundles' | 'audit'>> & {
  url: string;
  bundles?: Partial<ControllerLinkConfig['bundles']>;
  audit?: Partial<ControllerLinkConfig['audit']>;
};

export function resolveControllerLink(input: ControllerLinkInput): ControllerLinkConfig {
  return {
    ...input,
    url: input.url.replace(/\/+$/, ''),
    bundles: { pollIntervalMs: 30_000, requestTimeoutMs: 10_000, keyRefreshMs: 3_600_000, expiryGraceMs: 3_600_000, ...input.bundles },
    audit: { batchSize: 500, flushIntervalMs: 2_000, maxBackoffMs: 60_000, localRetentionDays: 90, ...input.audit },
  };
}

const positiveInt = { type: 'integer', minimum: 1 } as const;

export const controllerLinkConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['url'],
  properties: {
    url: { type: 'string', pattern: '^https?://' },
    insecure: { type: 'boolean' },
    tokenEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    tokenFile: { type: 'string', minLength: 1 },
    caFile: { type: 'string', minLength: 1 },
    bundles: {
      type: 'object',
      additionalProperties: false,
      properties: {
        pollIntervalMs: { type: 'integer', minimum: 100 },
        requestTimeoutMs: positiveInt,
        keyRefreshMs: { type: 'integer', minimum: 1000 },
        expiryGraceMs: { type: 'integer', minimum: 0 },
      },
    },
    audit: {
      type: 'object',
      additionalProperties: false,
      properties: {
        batchSize: { type: 'integer', minimum: 1, maximum: 5000 },
        flushIntervalMs: { type: 'integer', minimum: 10 },
        maxBackoffMs: positiveInt,
        localRetentionDays: positiveInt,
      },
    },
  },
} as const;

const LOOPBACK_HOST = /^(localhost|127(\.\d{1,3}){3}|\[::1\])$/i;

/**
 * Why a controller URL may not be used, or undefined when it may: https anywhere, plain http
 * only to this machine (loopback) unless `insecure` is set on purpose.
 */
export function checkControllerUrl(url: string, insecure: boolean): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `controller URL "${url}" is not a valid URL`;
  }
  if (parsed.protocol === 'https:') return undefined;
  if (parsed.protocol !== 'http:') return `controller URL must be https:// (got ${parsed.protocol}//)`;
  if (LOOPBACK_HOST.test(parsed.hostname) || insecure) return undefined;
  return `refusing plain-http controller URL ${parsed.origin}: tokens and policy bundles would travel unprotected. Use https://, or pass --insecure (controller.insecure: true) if you really mean it`;
}
