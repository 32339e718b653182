/**
 * Exact-cache keys: SHA-256 over a canonical form (object keys sorted, no whitespace) of the
 * request as it goes upstream — i.e. after the Privacy Guard masked it, so the key never
 * depends on a clear-text secret. Delivery-only fields (`stream`, `stream_options`, `user`)
 * are left out; the tenant, the route and the stream flag namespace the key, because a
 * stored stream is replayed as a stream and a stored JSON body as JSON.
 *
 * The texts of the request are found through the route's wire map (gateway/wire/) — the same
 * map masking and metering use — and each long one enters the canonical form as its own
 * SHA-256 (`#<digest>`, unquoted, so it can never equal a JSON string) instead of as escaped
 * JSON: hashing a 300 KB conversation's texts costs a fraction of JSON-escaping them.
 */
import { createHash, hash } from 'node:crypto';
import type { JsonObject, JsonValue, RouteKind } from '../context.js';
import { wireMapForRoute } from '../wire/index.js';

const EXCLUDED_FIELDS = new Set(['stream', 'stream_options', 'user']);

/** Texts shorter than this are written as JSON: hashing them saves nothing. */
const MIN_DIGEST_CHARS = 64;

/** Fields (holder → keys) whose string value is written as its digest. */
export type DigestFields = Map<JsonObject | JsonValue[], Set<string | number>>;

function text(v: JsonValue, digest: boolean): string {
  return digest && typeof v === 'string' ? `#${hash('sha256', v, 'base64')}` : canonicalJsonOf(v, undefined, undefined);
}

/**
 * Canonical JSON text. Keys are sorted by UTF-16 code units (as RFC 8785 does); strings and
 * numbers are written by JSON.stringify, which escapes lone surrogates instead of failing.
 * With `digests`, the named text fields are written as `#<sha256>` (not JSON any more, but a
 * canonical form all the same).
 */
export function canonicalJson(value: JsonValue, skipTopLevel?: ReadonlySet<string>, digests?: DigestFields): string {
  return canonicalJsonOf(value, skipTopLevel, digests);
}

function canonicalJsonOf(value: JsonValue, skipTopLevel: ReadonlySet<string> | undefined, digests: DigestFields | undefined): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const named = digests?.get(value);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      if (i > 0) out += ',';
      out += named?.has(i) ? text(value[i] as JsonValue, true) : canonicalJsonOf(value[i] as JsonValue, undefined, digests);
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
    out += `${JSON.stringify(k)}:${named?.has(k) ? text(v, true) : canonicalJsonOf(v, undefined, digests)}`;
  }
  return `${out}}`;
}

/** The long text fields of a request body, from the route's wire map. */
export function digestFields(route: RouteKind, body: JsonObject): DigestFields | undefined {
  const map = wireMapForRoute(route);
  if (!map) return undefined;
  const fields: DigestFields = new Map();
  map.requestFields(body, (f) => {
    if (f.kind !== 'text' && f.kind !== 'json-string') return;
    const v = (f.holder as Record<string | number, JsonValue | undefined>)[f.key];
    if (typeof v !== 'string' || v.length < MIN_DIGEST_CHARS) return;
    let keys = fields.get(f.holder);
    if (!keys) fields.set(f.holder, (keys = new Set()));
    keys.add(f.key);
  });
  return fields;
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
    .update(canonicalJson(input.body, EXCLUDED_FIELDS, digestFields(input.route, input.body)))
    .digest('hex');
}

/** Deterministic = the caller pinned temperature to 0 (embeddings always are). */
export function isDeterministic(route: RouteKind, body: JsonObject): boolean {
  return route === 'embeddings' || body.temperature === 0;
}
