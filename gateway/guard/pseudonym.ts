/**
 * Deterministic pseudonyms: HMAC-SHA256(per-tenant key, class + "\0" + normalised value).
 * The same value gives the same pseudonym in every request of a tenant (masked prompts still
 * cache); another tenant gets another one. Tenant keys are derived (HKDF) from one master key
 * file in the data dir, so there is a single secret to protect and rotate.
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { readOrCreateSecret } from '../../bin/data-dir.js';
import type { EntityClass } from './types.js';

export const GUARD_MASTER_KEY_FILE = 'guard-master.key';

/** Compact token: CLASS + "_" + upper-case hex. Easy to spot in a stream, copied faithfully by models. */
const TOKEN_HEX_CHARS = 8;
/** Used only when two different values of one request would share the 8-digit token. */
const TOKEN_HEX_CHARS_LONG = 16;

const caseInsensitiveClasses = new Set(['EMAIL', 'PERSON', 'ADDRESS', 'IBAN', 'URL', 'IP_ADDRESS']);
const digitClasses = new Set(['CREDIT_CARD', 'US_SSN']);

/**
 * The form of a value that decides its pseudonym: "John@Example.com" and "john@example.com"
 * are one identity. Secrets (keys, passwords, JWTs) stay exact: case matters in them.
 */
export function normaliseValue(cls: EntityClass, value: string): string {
  if (cls === 'PHONE') {
    const digits = value.replace(/\D+/g, '');
    return value.trimStart().startsWith('+') ? `+${digits}` : digits;
  }
  if (digitClasses.has(cls)) return value.replace(/[\s-]+/g, '');
  if (cls === 'IBAN') return value.replace(/\s+/g, '').toUpperCase();
  const trimmed = value.normalize('NFC').trim().replace(/\s+/g, ' ');
  return caseInsensitiveClasses.has(cls) ? trimmed.toLowerCase() : trimmed;
}

/** Per-tenant HMAC keys derived from one master key; cached because every request needs one. */
export class TenantKeys {
  readonly #master: Buffer;
  readonly #byTenant = new Map<string, Pseudonymizer>();

  /**
   * `tenantKey`: the tenant's own current key from the secret store (`tenant.<id>.pseudonym`,
   * rotated or imported — BYOK), used instead of the master-derived one when present. Earlier
   * pseudonyms need no old key: re-identification uses each request's own map, and the resent
   * history is masked again under the current key.
   */
  constructor(
    masterKey: Buffer,
    private readonly tenantKey?: (tenantId: string) => string | undefined,
  ) {
    if (masterKey.length < 32) throw new Error('guard master key must be at least 32 bytes');
    this.#master = masterKey;
  }

  /** Reads <data-dir>/guard-master.key (0600), creating it with 32 random bytes on first run. */
  static fromDataDir(dataDir: string, tenantKey?: (tenantId: string) => string | undefined): TenantKeys {
    const encoded = readOrCreateSecret(join(dataDir, GUARD_MASTER_KEY_FILE), () => randomBytes(32).toString('base64'));
    return new TenantKeys(Buffer.from(encoded, 'base64'), tenantKey);
  }

  pseudonymizer(tenantId: string): Pseudonymizer {
    let p = this.#byTenant.get(tenantId);
    if (!p) {
      const own = this.tenantKey?.(tenantId);
      const key = own
        ? Buffer.from(hkdfSync('sha256', Buffer.from(own, 'utf8'), 'switchboard-guard-pseudonym-tenant-key-v1', `tenant:${tenantId}`, 32))
        : Buffer.from(hkdfSync('sha256', this.#master, 'switchboard-guard-pseudonym-v1', `tenant:${tenantId}`, 32));
      p = new Pseudonymizer(key);
      this.#byTenant.set(tenantId, p);
    }
    return p;
  }
}

export class Pseudonymizer {
  readonly #key: Buffer;
  // Agents resend the whole history every turn, so the same values come back again and again.
  readonly #digests = new LRUCache<string, Buffer>({ max: 20_000 });

  constructor(key: Buffer) {
    this.#key = key;
  }

  /** HMAC-SHA256 of class + NUL + normalised value: the seed of both pseudonym styles. */
  digest(cls: EntityClass, normalised: string): Buffer {
    const cacheKey = `${cls}\0${normalised}`;
    let d = this.#digests.get(cacheKey);
    if (!d) this.#digests.set(cacheKey, (d = createHmac('sha256', this.#key).update(cacheKey).digest()));
    return d;
  }

  /** `EMAIL_7F3A2C9B`; `long` gives 16 hex digits for the rare in-request collision. */
  token(cls: EntityClass, digest: Buffer, long = false): string {
    const hexChars = long ? TOKEN_HEX_CHARS_LONG : TOKEN_HEX_CHARS;
    return `${cls}_${digest.toString('hex', 0, hexChars / 2).toUpperCase()}`;
  }
}
