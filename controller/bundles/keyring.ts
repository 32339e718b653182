/**
 * Ed25519 keys that sign policy bundles, with rotation that never disrupts a gateway:
 *   1. `rotate()` adds a *next* key that is published in the JWKS at once but signs nothing
 *      until `activatesAt` (now + publishLeadMs), so gateways learn it before they meet it;
 *   2. from then on the next key signs, and the old key stops signing;
 *   3. the old key stays in the JWKS until every bundle it signed has expired
 *      (retiredAt + bundleTtlMs), then `prune()` drops it.
 * Kept in the data dir's secret store as `signing.bundles` (earlier versions:
 * <data-dir>/bundle-signing-keys.json, moved in on first run), apart from the access-token keys: a
 * bundle key and a token key have different lifetimes and rotate on different schedules.
 */
import { randomUUID } from 'node:crypto';
import { GeneralSign, exportJWK, generateKeyPair, importJWK, type CryptoKey, type GeneralJWS, type JWK } from 'jose';
import { keySetProofPayload } from '../../policies/bundle/format.js';
import { loadOrCreateKeyList } from '../key-file.js';
import { MANAGED_SECRETS } from '../../platform/secrets/managed.js';
import type { SecretStore } from '../../platform/secrets/store.js';

/** Where earlier versions kept the keys (0600); moved into the secret store on first run. */
export const BUNDLE_KEYS_FILE = MANAGED_SECRETS.bundleKeys.legacyFile;
export const BUNDLE_SIGNING_ALG = 'EdDSA';

interface StoredBundleKey {
  kid: string;
  createdAt: number;
  /** Signs bundles from this time on (epoch ms). */
  activatesAt: number;
  /** Stopped signing at this time, when a newer key took over. */
  retiredAt?: number;
  /** Leaves the JWKS after this time: every bundle it signed has expired by then. */
  removeAfter?: number;
  privateJwk: JWK;
}

export interface BundlePublicJwk extends JWK {
  kid: string;
  alg: typeof BUNDLE_SIGNING_ALG;
  use: 'sig';
}

export interface BundleKeyringOptions {
  /** How long a newly published key waits before it signs. Default 10 minutes. */
  publishLeadMs?: number;
  /** Lifetime of a signed bundle; an old key is kept this long after it stops signing. */
  bundleTtlMs: number;
  /** Clock, for tests. */
  now?: () => number;
}

export class BundleKeyring {
  private readonly privateKeys = new Map<string, CryptoKey>();
  private readonly now: () => number;
  readonly publishLeadMs: number;

  private constructor(
    private readonly save: (keys: readonly StoredBundleKey[]) => void,
    private keys: StoredBundleKey[],
    private readonly opts: BundleKeyringOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.publishLeadMs = opts.publishLeadMs ?? 10 * 60_000;
  }

  static async loadOrCreate(dataDir: string, opts: BundleKeyringOptions, store?: SecretStore): Promise<BundleKeyring> {
    const { keys, save } = await loadOrCreateKeyList<StoredBundleKey>(
      dataDir,
      MANAGED_SECRETS.bundleKeys,
      'bundle signing keys',
      () => {
        const now = (opts.now ?? Date.now)();
        return newKey(now, now);
      },
      store,
    );
    return new BundleKeyring(save, keys, opts);
  }

  /** The key that signs now: the newest one already active. */
  async signingKey(): Promise<{ kid: string; privateKey: CryptoKey }> {
    const now = this.now();
    const active = this.keys.filter((k) => k.activatesAt <= now);
    const key = active[active.length - 1] ?? this.keys[0]!;
    return { kid: key.kid, privateKey: await this.privateKeyOf(key) };
  }

  /** Public keys gateways may meet: next, current and retired-but-unexpired. */
  jwks(): { keys: BundlePublicJwk[] } {
    const now = this.now();
    return {
      keys: this.keys
        .filter((k) => k.removeAfter === undefined || k.removeAfter > now)
        .map((k) => {
          const { d: _private, ...pub } = k.privateJwk;
          return { ...pub, kid: k.kid, alg: BUNDLE_SIGNING_ALG, use: 'sig' as const };
        }),
    };
  }

  /**
   * The JWKS plus a proof: a JWS over the key list signed by every listed key. A gateway adds a
   * new key only when a key it already trusts signed the list (so a rotation chains trust from
   * the key pinned at enrolment); removals it honours either way.
   */
  async signedJwks(): Promise<{ keys: BundlePublicJwk[]; proof: GeneralJWS }> {
    const jwks = this.jwks();
    const signer = new GeneralSign(keySetProofPayload(jwks));
    for (const k of this.keys.filter((key) => jwks.keys.some((pub) => pub.kid === key.kid))) {
      signer.addSignature(await this.privateKeyOf(k)).setProtectedHeader({ alg: BUNDLE_SIGNING_ALG, kid: k.kid });
    }
    return { keys: jwks.keys, proof: await signer.sign() };
  }

  private async privateKeyOf(key: StoredBundleKey): Promise<CryptoKey> {
    let privateKey = this.privateKeys.get(key.kid);
    if (!privateKey) {
      privateKey = (await importJWK(key.privateJwk, BUNDLE_SIGNING_ALG)) as CryptoKey;
      this.privateKeys.set(key.kid, privateKey);
    }
    return privateKey;
  }

  /** Key ids with their state, for the admin CLI and tests. */
  describe(): Array<{ kid: string; state: 'next' | 'active' | 'retired'; activatesAt: number; removeAfter?: number }> {
    const now = this.now();
    const signing = [...this.keys].reverse().find((k) => k.activatesAt <= now)?.kid;
    return this.keys.map((k) => ({
      kid: k.kid,
      state: k.kid === signing ? 'active' : k.activatesAt > now ? 'next' : 'retired',
      activatesAt: k.activatesAt,
      ...(k.removeAfter !== undefined ? { removeAfter: k.removeAfter } : {}),
    }));
  }

  /**
   * Publishes a next key that starts signing after publishLeadMs. The keys it replaces stop
   * signing then and are dropped one bundle lifetime later.
   */
  async rotate(): Promise<string> {
    const now = this.now();
    const activatesAt = now + this.publishLeadMs;
    for (const k of this.keys) {
      if (k.retiredAt === undefined) {
        k.retiredAt = Math.max(activatesAt, k.activatesAt);
        k.removeAfter = k.retiredAt + this.opts.bundleTtlMs;
      }
    }
    const next = await newKey(now, activatesAt);
    this.keys.push(next);
    this.persist();
    return next.kid;
  }

  /**
   * Removes a key at once, e.g. after a compromise: gateways drop it at their next key refresh
   * and refuse every bundle it signed. If it was the signing key, another key signs from now
   * (the newest remaining active one, else a fresh key that is active immediately).
   */
  async revoke(kid: string): Promise<void> {
    if (!this.keys.some((k) => k.kid === kid)) throw new Error(`no bundle signing key with kid ${kid}`);
    const now = this.now();
    this.keys = this.keys.filter((k) => k.kid !== kid);
    this.privateKeys.delete(kid);
    if (!this.keys.some((k) => k.activatesAt <= now)) {
      // Nothing active is left: a new key signs now. A pending "next" key keeps its later start.
      this.keys.unshift(await newKey(now, now));
    }
    const signing = [...this.keys].reverse().find((k) => k.activatesAt <= now)!;
    if (!this.keys.some((k) => k.activatesAt > now)) {
      // No key is waiting to take over: the one signing again must not be dropped on the old schedule.
      delete signing.retiredAt;
      delete signing.removeAfter;
    }
    this.persist();
  }

  /** Forgets keys whose bundles have all expired. Returns the kids removed. */
  prune(): string[] {
    const now = this.now();
    const gone = this.keys.filter((k) => k.removeAfter !== undefined && k.removeAfter <= now).map((k) => k.kid);
    if (gone.length > 0) {
      this.keys = this.keys.filter((k) => !gone.includes(k.kid));
      for (const kid of gone) this.privateKeys.delete(kid);
      this.persist();
    }
    return gone;
  }

  private persist(): void {
    this.save(this.keys);
  }
}

async function newKey(now: number, activatesAt: number): Promise<StoredBundleKey> {
  const { privateKey } = await generateKeyPair(BUNDLE_SIGNING_ALG, { crv: 'Ed25519', extractable: true });
  return { kid: `bundle-${randomUUID()}`, createdAt: now, activatesAt, privateJwk: await exportJWK(privateKey) };
}
