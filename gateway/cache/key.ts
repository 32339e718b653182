/**
 * Exact-cache keys: SHA-256 over a canonical form (object keys sorted, no whitespace) of the
 * request as it goes upstream — i.e. after the Privacy Guard masked it, so the key never
 * depends on a clear-text secret. Delivery-only fields (`stream`, `stream_options`, `user`)
 * are left out; the tenant, the route and the stream flag namespace the key, because a
 * stored stream is replayed as a stream and a stored JSON body as JSON.
 */
import { createHash } from 'node:crypto';
import type { JsonObject, JsonValue, RouteKind } from '../context.js';

const EXCLUDED_FIELDS = new Set(['stream', 'stream_options', 'user']);

/**
 * Canonical JSON text. Keys are sorted by UTF-16 code units (as RFC 8785 does); strings and
 * numbers are written by JSON.stringify, which escapes lone surrogates instead of failing.
 */
export function canonicalJson(value: JsonValue, skipTopLevel?: ReadonlySet<string>): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += canonicalJson(value[i] as JsonValue);
    }
    return `${out}]`;
  }
  const keys = Object.keys(value);
  if (keys.length > 1) keys.sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = value[k];
    if (v === undefined || skipTopLevel?.has(k)) continue;
    if (!first) out += ',';
    first = false;
    out += `${JSON.stringify(k)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

export interface CacheKeyInput {
  tenantId: string;
  route: RouteKind;
  stream: boolean;
  /** The masked request body. */
  body: JsonObject;
}

export function cacheKey(input: CacheKeyInput): string {
  return createHash('sha256')
    .update(`${input.tenantId}\u0000${input.route}\u0000${input.stream ? 'sse' : 'json'}\u0000`)
    .update(canonicalJson(input.body, EXCLUDED_FIELDS))
    .digest('hex');
}

/** Deterministic = the caller pinned temperature to 0 (embeddings always are). */
export function isDeterministic(route: RouteKind, body: JsonObject): boolean {
  return route === 'embeddings' || body.temperature === 0;
}
