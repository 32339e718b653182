/** `gateway.cache` in switchboard.yaml: exact-cache settings, their JSON Schema and defaults. */
import type { CacheMode } from '../stages/cache.js';
import type { ExactCacheOptions } from './exact-cache.js';

export interface CacheConfig {
  /** deterministic (temperature 0 only, the default), always, or off. A policy's `cache.mode` overrides it per role. */
  mode: CacheMode;
  ttlSeconds: number;
  /** Persistent store caps (in gateway.db). */
  maxEntries: number;
  maxMegabytes: number;
  /** In-memory front cache. */
  memoryMegabytes: number;
  /** Responses larger than this are not cached. */
  maxEntryKilobytes: number;
}

export function defaultCacheConfig(): CacheConfig {
  return { mode: 'deterministic', ttlSeconds: 3600, maxEntries: 20_000, maxMegabytes: 256, memoryMegabytes: 32, maxEntryKilobytes: 1024 };
}

export const cacheConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mode: { enum: ['deterministic', 'always', 'off'] },
    ttlSeconds: { type: 'integer', minimum: 1 },
    maxEntries: { type: 'integer', minimum: 1 },
    maxMegabytes: { type: 'number', exclusiveMinimum: 0 },
    memoryMegabytes: { type: 'number', exclusiveMinimum: 0 },
    maxEntryKilobytes: { type: 'number', exclusiveMinimum: 0 },
  },
} as const;

/** Defaults overlaid with the (schema-validated) `gateway.cache` section. */
export function resolveCacheConfig(input: Partial<CacheConfig> | undefined): CacheConfig {
  return { ...defaultCacheConfig(), ...input };
}

export function exactCacheOptions(c: CacheConfig): ExactCacheOptions {
  const mib = 1024 * 1024;
  return {
    ttlMs: c.ttlSeconds * 1000,
    maxEntries: c.maxEntries,
    maxBytes: Math.floor(c.maxMegabytes * mib),
    memoryMaxBytes: Math.floor(c.memoryMegabytes * mib),
    maxEntryBytes: Math.floor(c.maxEntryKilobytes * 1024),
  };
}
