/** Gateway section of switchboard.yaml: its type, JSON Schema and defaults. */
import { cacheConfigSchema, type CacheConfig } from './cache/config.js';
import { downshiftConfigSchema, type DownshiftConfig } from './downshift/config.js';
import { costConfigSchema, type CostConfigInput } from './cost/config.js';
import { telemetryConfigSchema, type TelemetryConfig } from '../platform/telemetry/config.js';
import type { UpstreamKind } from '../models/adapters/types.js';

export type { UpstreamKind };

export interface UpstreamConfig {
  /** Name used in logs, metrics and the breaker. */
  name: string;
  /** Adapter in models/adapters/ that knows this upstream's paths and auth. */
  kind: UpstreamKind;
  /** Base URL up to and including the version segment, e.g. https://openrouter.ai/api/v1. */
  baseUrl: string;
  /** Name of the environment variable holding this upstream's key. */
  apiKeyEnv?: string;
  /** Model sent when this upstream is used as a fallback (e.g. a local Ollama model). */
  fallbackModel?: string;
}

export interface GatewayConfig {
  host: string;
  port: number;
  /** Largest request body accepted; bigger ones get 413. */
  bodyLimitBytes: number;
  /** Ordered: the first is the primary, the rest are fallbacks used when it is down. */
  upstreams: UpstreamConfig[];
  retry: {
    /** Attempts per upstream, including the first. */
    maxAttempts: number;
    baseDelayMs: number;
    maxDelayMs: number;
    /** A Retry-After longer than this is not waited for: the 429 goes back to the caller. */
    maxRetryAfterMs: number;
  };
  breaker: { failureThreshold: number; cooldownMs: number };
  timeouts: { connectMs: number; headersMs: number; bodyIdleMs: number };
  /** OpenRouter app attribution headers (HTTP-Referer, X-Title), added when set. */
  attribution: { referer?: string; title?: string };
  /** Who this local gateway serves, until a controller identity is enrolled. */
  identity: { tenantId: string; userId: string; role: string };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Exact cache settings (gateway/cache/config.ts); absent keys take its defaults. */
  cache?: Partial<CacheConfig>;
  /** Downshift rule file (gateway/downshift/config.ts). */
  downshift?: DownshiftConfig;
  /** Usage retention, model tiers, budgets, reservation pricing (gateway/cost/config.ts). */
  cost?: CostConfigInput;
  /** Traces and metrics export (platform/telemetry/config.ts); absent keys take its defaults. */
  telemetry?: Partial<TelemetryConfig>;
  /** Privacy Guard runtime settings. */
  guard?: GuardRuntimeConfig;
}

export interface GuardRuntimeConfig {
  /**
   * Bound of each tenant's detection memo (guard/detection-memo.ts), in megabytes; 0 turns the
   * memo off (every text of every request is scanned). Default 8.
   */
  memoMegabytesPerTenant?: number;
  /**
   * Bound, in megabytes across all callers, of the previous turns kept so that a resent
   * conversation is not parsed and hashed again (wire/previous-turns.ts); they hold conversation
   * text in memory only. 0 keeps none. Default 64.
   */
  previousTurnsMegabytes?: number;
}

/** Default bound of each tenant's detection memo. */
export const DEFAULT_MEMO_MEGABYTES_PER_TENANT = 8;
/** Default bound of the kept previous turns, across callers. */
export const DEFAULT_PREVIOUS_TURNS_MEGABYTES = 64;

/** Bytes of previous turns kept under `config.guard` (0: none). */
export function previousTurnsBytes(config: GatewayConfig): number {
  return Math.floor((config.guard?.previousTurnsMegabytes ?? DEFAULT_PREVIOUS_TURNS_MEGABYTES) * 1024 * 1024);
}

/** Bytes of each tenant's detection memo under `config.guard` (0: no memo). */
export function memoBytesPerTenant(config: GatewayConfig): number {
  return Math.floor((config.guard?.memoMegabytesPerTenant ?? DEFAULT_MEMO_MEGABYTES_PER_TENANT) * 1024 * 1024);
}

export const OPENROUTER_BASE_URL = 'https://openrouter.ai/api/v1';

export function defaultGatewayConfig(): GatewayConfig {
  return {
    host: '127.0.0.1',
    port: 8787,
    bodyLimitBytes: 32 * 1024 * 1024,
    upstreams: [{ name: 'openrouter', kind: 'openrouter', baseUrl: OPENROUTER_BASE_URL, apiKeyEnv: 'OPENROUTER_API_KEY' }],
    retry: { maxAttempts: 3, baseDelayMs: 250, maxDelayMs: 4000, maxRetryAfterMs: 20_000 },
    breaker: { failureThreshold: 5, cooldownMs: 30_000 },
    timeouts: { connectMs: 10_000, headersMs: 300_000, bodyIdleMs: 300_000 },
    attribution: {},
    identity: { tenantId: 'local', userId: 'local-user', role: 'engineering' },
    logLevel: 'info',
  };
}

const positiveInt = { type: 'integer', minimum: 1 } as const;
const nonNegativeInt = { type: 'integer', minimum: 0 } as const;

export const upstreamSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'kind', 'baseUrl'],
  properties: {
    name: { type: 'string', minLength: 1 },
    kind: { enum: ['openrouter', 'openai', 'ollama', 'anthropic'] },
    baseUrl: { type: 'string', pattern: '^https?://' },
    apiKeyEnv: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' },
    fallbackModel: { type: 'string', minLength: 1 },
  },
} as const;

export const gatewayConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    host: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    bodyLimitBytes: positiveInt,
    upstreams: { type: 'array', minItems: 1, items: upstreamSchema },
    retry: {
      type: 'object',
      additionalProperties: false,
      properties: { maxAttempts: positiveInt, baseDelayMs: nonNegativeInt, maxDelayMs: nonNegativeInt, maxRetryAfterMs: nonNegativeInt },
    },
    breaker: {
      type: 'object',
      additionalProperties: false,
      properties: { failureThreshold: positiveInt, cooldownMs: nonNegativeInt },
    },
    timeouts: {
      type: 'object',
      additionalProperties: false,
      properties: { connectMs: positiveInt, headersMs: positiveInt, bodyIdleMs: positiveInt },
    },
    attribution: {
      type: 'object',
      additionalProperties: false,
      properties: { referer: { type: 'string' }, title: { type: 'string' } },
    },
    identity: {
      type: 'object',
      additionalProperties: false,
      properties: { tenantId: { type: 'string', minLength: 1 }, userId: { type: 'string', minLength: 1 }, role: { type: 'string', minLength: 1 } },
    },
    logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
    cache: cacheConfigSchema,
    downshift: downshiftConfigSchema,
    cost: costConfigSchema,
    telemetry: telemetryConfigSchema,
    guard: {
      type: 'object',
      additionalProperties: false,
      // Up to 1 GB per tenant: a memo entry holds offsets only (~160 bytes plus ~96 per finding).
      properties: {
        memoMegabytesPerTenant: { type: 'number', minimum: 0, maximum: 1024 },
        // Each kept turn accounts three times its body's bytes (the bytes and their parsed text).
        previousTurnsMegabytes: { type: 'number', minimum: 0, maximum: 4096 },
      },
    },
  },
} as const;

/** Applies a validated `gateway:` section over the defaults; nested sections merge key by key. */
export function mergeGatewayConfig(base: GatewayConfig, patch: Partial<Record<keyof GatewayConfig, unknown>>): GatewayConfig {
  const p = patch as Partial<GatewayConfig>;
  return {
    ...base,
    ...p,
    retry: { ...base.retry, ...p.retry },
    breaker: { ...base.breaker, ...p.breaker },
    timeouts: { ...base.timeouts, ...p.timeouts },
    attribution: { ...base.attribution, ...p.attribution },
    identity: { ...base.identity, ...p.identity },
  };
}
