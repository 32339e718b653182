/**
 * The pseudonym vault: pseudonym → real value, encrypted with AES-256-GCM, in <data-dir>/gateway.db.
 * The key lives outside the database (`vault.key` in the secret store: the OS keychain or the
 * encrypted file), so a copied database alone reveals nothing. Each row's ciphertext is bound to its tenant and pseudonym (GCM AAD),
 * so rows cannot be swapped. Rows expire after a TTL and are purged.
 *
 * Two kinds of rows: single pseudonyms and maps (a set of pseudonyms handed out as a `mapRef` by
 * the MCP process tool and read back by its reidentify tool).
 *
 * A real value is stored only where something reads it. Re-identification in the gateway uses the
 * request's own map, so single pseudonym rows have no reader unless one is declared
 * (`pseudonymReaders`: re-identification after a restart, an audited reveal); without one `put`
 * writes nothing and rows left by earlier versions are deleted when the vault opens.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { SecretStore } from '../../platform/secrets/store.js';
import { MANAGED_SECRETS, loadOrCreateManagedSecret } from '../../platform/secrets/managed.js';
import { migrate, type GatewayDb } from '../../platform/sqlite.js';
import type { PseudonymEntry } from './mask-request.js';

/** Where earlier versions kept the vault key (0600); moved into the store as `vault.key`. */
export const GUARD_VAULT_KEY_FILE = MANAGED_SECRETS.vaultKey.legacyFile;
export const DEFAULT_VAULT_TTL_MS = 7 * 24 * 3600 * 1000;
/** Expired rows are purged on the first write and then at most this often, during writes (no timers). */
const PURGE_INTERVAL_MS = 3600 * 1000;

const migrations = [
  `CREATE TABLE guard_vault (
     tenant_id TEXT NOT NULL,
     pseudonym TEXT NOT NULL,
     class TEXT NOT NULL,
     sealed BLOB NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     PRIMARY KEY (tenant_id, pseudonym)
   )`,
  'CREATE INDEX guard_vault_expiry ON guard_vault (expires_at)',
  `CREATE TABLE guard_vault_maps (
     tenant_id TEXT NOT NULL,
     map_ref TEXT NOT NULL,
     sealed BLOB NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     PRIMARY KEY (tenant_id, map_ref)
   )`,
  'CREATE INDEX guard_vault_maps_expiry ON guard_vault_maps (expires_at)',
];

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export function loadOrCreateVaultKey(dataDir: string, store: SecretStore = SecretStore.open({ dataDir })): Buffer {
  const encoded = loadOrCreateManagedSecret(store, dataDir, MANAGED_SECRETS.vaultKey, () => randomBytes(32).toString('base64'));
  const key = Buffer.from(encoded, 'base64');
  if (key.length !== 32) throw new Error(`the secret ${MANAGED_SECRETS.vaultKey.name} must hold 32 base64-encoded bytes`);
  return key;
}

/** What may read single pseudonym rows back; each one is a reason to keep real values. */
export type PseudonymReader = 'reidentify-after-restart' | 'audited-reveal';

export interface VaultOptions {
  /** How long an entry lives after its last write. */
  ttlMs?: number;
  now?: () => number;
  /** Readers of single pseudonym rows. None (the default): `put` stores nothing. */
  pseudonymReaders?: readonly PseudonymReader[];
}

export class Vault {
  readonly #db: GatewayDb;
  readonly #key: Buffer;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #upsert;
  readonly #select;
  readonly #insertMap;
  readonly #selectMap;
  readonly #keepPseudonyms: boolean;
  #lastPurge: number;

  constructor(db: GatewayDb, key: Buffer, opts: VaultOptions = {}) {
    if (key.length !== 32) throw new Error('vault key must be 32 bytes (AES-256)');
    migrate(db, 'guard-vault', migrations);
    this.#db = db;
    this.#key = key;
    this.#ttlMs = opts.ttlMs ?? DEFAULT_VAULT_TTL_MS;
    this.#now = opts.now ?? Date.now;
    this.#upsert = db.prepare(
      `INSERT INTO guard_vault (tenant_id, pseudonym, class, sealed, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant_id, pseudonym) DO UPDATE SET sealed = excluded.sealed, expires_at = excluded.expires_at`,
    );
    this.#select = db.prepare('SELECT class, sealed FROM guard_vault WHERE tenant_id = ? AND pseudonym = ? AND expires_at > ?');
    this.#insertMap = db.prepare('INSERT INTO guard_vault_maps (tenant_id, map_ref, sealed, created_at, expires_at) VALUES (?, ?, ?, ?, ?)');
    this.#selectMap = db.prepare('SELECT sealed FROM guard_vault_maps WHERE tenant_id = ? AND map_ref = ? AND expires_at > ?');
    // The first write purges; later writes at most once per interval.
    this.#lastPurge = -Infinity;
    this.#keepPseudonyms = (opts.pseudonymReaders ?? []).length > 0;
    // Values nothing will read are not kept, including those an earlier version wrote.
    if (!this.#keepPseudonyms) db.prepare('DELETE FROM guard_vault').run();
  }

  /** Whether `put` stores values (some reader of single pseudonym rows was declared). */
  get keepsPseudonyms(): boolean {
    return this.#keepPseudonyms;
  }

  #purgeIfDue(now: number): void {
    if (now - this.#lastPurge < PURGE_INTERVAL_MS) return;
    this.#lastPurge = now;
    this.purgeExpired();
  }

  get ttlMs(): number {
    return this.#ttlMs;
  }

  /** Stores (or refreshes) pseudonyms of one tenant, in one transaction; a no-op when nothing reads them. */
  put(tenantId: string, entries: Iterable<PseudonymEntry>): void {
    if (!this.#keepPseudonyms) return;
    const now = this.#now();
    const expires = now + this.#ttlMs;
    this.#purgeIfDue(now);
    this.#db.transaction(() => {
      for (const e of entries) {
        this.#upsert.run(tenantId, e.pseudonym, e.class, this.#seal(e.value, `${tenantId}\0${e.pseudonym}`), now, expires);
      }
    })();
  }

  /** The real value behind a pseudonym, or undefined when unknown or expired. */
  get(tenantId: string, pseudonym: string): PseudonymEntry | undefined {
    const row = this.#select.get(tenantId, pseudonym, this.#now()) as { class: string; sealed: Buffer } | undefined;
    if (!row) return undefined;
    return { pseudonym, class: row.class, value: this.#open(row.sealed, `${tenantId}\0${pseudonym}`) };
  }

  /** Stores a whole map under a new random reference and returns it. */
  putMap(tenantId: string, entries: readonly PseudonymEntry[]): string {
    const mapRef = `map_${randomBytes(12).toString('base64url')}`;
    const now = this.#now();
    this.#purgeIfDue(now);
    this.#insertMap.run(tenantId, mapRef, this.#seal(JSON.stringify(entries), `${tenantId}\0${mapRef}`), now, now + this.#ttlMs);
    return mapRef;
  }

  getMap(tenantId: string, mapRef: string): PseudonymEntry[] | undefined {
    const row = this.#selectMap.get(tenantId, mapRef, this.#now()) as { sealed: Buffer } | undefined;
    if (!row) return undefined;
    return JSON.parse(this.#open(row.sealed, `${tenantId}\0${mapRef}`)) as PseudonymEntry[];
  }

  /** Deletes expired rows; returns how many went. */
  purgeExpired(): number {
    const now = this.#now();
    const a = this.#db.prepare('DELETE FROM guard_vault WHERE expires_at <= ?').run(now).changes;
    const b = this.#db.prepare('DELETE FROM guard_vault_maps WHERE expires_at <= ?').run(now).changes;
    return a + b;
  }

  /** nonce ‖ ciphertext ‖ tag */
  #seal(plain: string, aad: string): Buffer {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    cipher.setAAD(Buffer.from(aad));
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return Buffer.concat([nonce, body, cipher.getAuthTag()]);
  }

  #open(sealed: Buffer, aad: string): string {
    const nonce = sealed.subarray(0, NONCE_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', this.#key, nonce);
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  }
}
