/**
 * The controller's Ed25519 signing keys, generated on first run and kept in the data dir's secret
 * store as `signing.access-tokens` (earlier versions: `<data-dir>/controller-keys.json`, moved in). Every key stays in the JWKS until it is retired, so
 * a rotation never invalidates tokens or bundles signed with the previous key: the newest key
 * signs, all listed keys verify.
 */
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { loadOrCreateKeyList } from '../key-file.js';
import { MANAGED_SECRETS } from '../../platform/secrets/managed.js';
import type { SecretStore } from '../../platform/secrets/store.js';

/** Where earlier versions kept the keys (0600); moved into the secret store on first run. */
export const SIGNING_KEYS_FILE = MANAGED_SECRETS.accessTokenKeys.legacyFile;
export const SIGNING_ALG = 'EdDSA';

interface StoredKey {
  kid: string;
  createdAt: string;
  privateJwk: JWK;
}

export interface PublicJwk extends JWK {
  kid: string;
  alg: typeof SIGNING_ALG;
  use: 'sig';
}

export interface ActiveSigningKey {
  kid: string;
  privateKey: CryptoKey;
}

export class SigningKeys {
  private constructor(
    private readonly save: (keys: readonly StoredKey[]) => void,
    private stored: StoredKey[],
    private active: ActiveSigningKey,
    private publicJwks: PublicJwk[],
  ) {}

  /** Loads the keys from the secret store, creating one fresh key on first run. */
  static async loadOrCreate(dataDir: string, store?: SecretStore): Promise<SigningKeys> {
    const { keys: stored, save } = await loadOrCreateKeyList<StoredKey>(dataDir, MANAGED_SECRETS.accessTokenKeys, 'signing keys', newStoredKey, store);
    return new SigningKeys(save, stored, await importActive(stored), publicOf(stored));
  }

  /** The key new access tokens are signed with (the newest); bundles have their own keyring. */
  current(): ActiveSigningKey {
    return this.active;
  }

  /** Public keys of every listed key, for /.well-known/jwks.json. */
  jwks(): { keys: PublicJwk[] } {
    return { keys: this.publicJwks };
  }

  /**
   * Adds a new key and makes it the signing key; older keys keep verifying. Keep the old key
   * listed at least as long as the longest-lived thing it signed (retire it later with `retire`).
   */
  async rotate(): Promise<string> {
    const next = await newStoredKey();
    this.stored = [...this.stored, next];
    this.persist();
    this.active = await importActive(this.stored);
    return next.kid;
  }

  /** Removes a key from the JWKS; anything it signed stops verifying. The signing key cannot be retired. */
  retire(kid: string): void {
    if (kid === this.active.kid) throw new Error(`key ${kid} is the current signing key; rotate first`);
    const kept = this.stored.filter((k) => k.kid !== kid);
    if (kept.length === this.stored.length) throw new Error(`no signing key with kid ${kid}`);
    this.stored = kept;
    this.persist();
  }

  private persist(): void {
    this.save(this.stored);
    this.publicJwks = publicOf(this.stored);
  }
}

async function newStoredKey(): Promise<StoredKey> {
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { crv: 'Ed25519', extractable: true });
  return { kid: randomUUID(), createdAt: new Date().toISOString(), privateJwk: await exportJWK(privateKey) };
}

async function importActive(stored: StoredKey[]): Promise<ActiveSigningKey> {
  const newest = stored[stored.length - 1]!;
  const privateKey = (await importJWK(newest.privateJwk, SIGNING_ALG)) as CryptoKey;
  return { kid: newest.kid, privateKey };
}

function publicOf(stored: StoredKey[]): PublicJwk[] {
  return stored.map((k) => {
    const { d: _private, ...pub } = k.privateJwk;
    return { ...pub, kid: k.kid, alg: SIGNING_ALG, use: 'sig' };
  });
}
