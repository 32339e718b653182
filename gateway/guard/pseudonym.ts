/**
 * Deterministic pseudonyms: HMAC-SHA256(per-tenant key, class + "\0" + normalised value).
 * The same value gives the same pseudonym in every request of a tenant (masked prompts still
 * cache); another tenant gets another one. Tenant keys are derived (HKDF) from one master key
 * (`guard.master` in the secret store), or are the tenant's own key (`tenant.<id>.pseudonym`).
 */
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { SecretStore } from '../../platform/secrets/store.js';
import { MANAGED_SECRETS, loadOrCreateManagedSecret } from '../../platform/secrets/managed.js';
import type { EntityClass } from './types.js';

/** Where earlier versions kept the master key (0600); moved into the store as `guard.master`. */
export const GUARD_MASTER_KEY_FILE = MANAGED_SECRETS.guardMaster.legacyFile;

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

/** How often a tenant's own key is looked up again, so a rotation reaches a running gateway. */
export const TENANT_KEY_RECHECK_MS = 1000;

/** Per-tenant HMAC keys derived from one master key; cached because every request needs one. */
export class TenantKeys {
  readonly #master: Buffer;
  readonly #byTenant = new Map<string, { own: string | undefined; checkedAt: number; pseudonymizer: Pseudonymizer }>();

  /**
   * `tenantKey`: the tenant's own current key from the secret store (`tenant.<id>.pseudonym`,
   * rotated or imported — BYOK), used instead of the master-derived one when present. It is
   * looked up again at most every `recheckMs`, so `switchboard secrets rotate` takes effect
   * without a restart. Earlier pseudonyms need no old key: re-identification uses each
   * request's own map (and the vault for map references), and the resent history is masked
   * again under the current key.
   */
  constructor(
    masterKey: Buffer,
    private readonly tenantKey?: (tenantId: string) => string | undefined,
    private readonly recheckMs = TENANT_KEY_RECHECK_MS,
    private readonly now: () => number = Date.now,
  ) {
    if (masterKey.length < 32) throw new Error('guard master key must be at least 32 bytes');
    this.#master = masterKey;
  }

  /** The master key from the data dir's secret store (`guard.master`), created on first run. */
  static fromDataDir(dataDir: string, tenantKey?: (tenantId: string) => string | undefined, store: SecretStore = SecretStore.open({ dataDir })): TenantKeys {
    const encoded = loadOrCreateManagedSecret(store, dataDir, MANAGED_SECRETS.guardMaster, () => randomBytes(32).toString('base64'));
    return new TenantKeys(Buffer.from(encoded, 'base64'), tenantKey);
  }

  pseudonymizer(tenantId: string): Pseudonymizer {
    const cached = this.#byTenant.get(tenantId);
    if (cached && (!this.tenantKey || this.now() - cached.checkedAt < this.recheckMs)) return cached.pseudonymizer;
    const own = this.tenantKey?.(tenantId);
    if (cached && cached.own === own) {
      cached.checkedAt = this.now();
      return cached.pseudonymizer;
    }
    const key = own
      ? Buffer.from(hkdfSync('sha256', Buffer.from(own, 'utf8'), 'switchboard-guard-pseudonym-tenant-key-v1', `tenant:${tenantId}`, 32))
      : Buffer.from(hkdfSync('sha256', this.#master, 'switchboard-guard-pseudonym-v1', `tenant:${tenantId}`, 32));
    const pseudonymizer = new Pseudonymizer(key);
    this.#byTenant.set(tenantId, { own, checkedAt: this.now(), pseudonymizer });
    return pseudonymizer;
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
