/**
 * Serves each role's signed bundle. A bundle is signed once and reused (same bytes, same ETag)
 * until its content changes, the signing key changes (rotation), or less than half its
 * lifetime is left; then it is re-signed. Signed bundles live in the database so every
 * controller replica and every restart hands out the same bytes.
 */
import type { Kysely } from 'kysely';
import type { ControllerTables, EpochMs } from '../storage/schema.js';
import { bundleVersion } from '../../policies/bundle/format.js';
import type { BundleKeyring } from './keyring.js';
import { signBundle, type SignedBundle } from './sign.js';

export interface PolicyBundleRow {
  role: string;
  version: string;
  kid: string;
  jws: string;
  etag: string;
  /** Epoch seconds (JWT iat/exp). */
  issued_at: EpochMs;
  expires_at: EpochMs;
}

declare module '../storage/schema.js' {
  interface ControllerTables {
    policy_bundles: PolicyBundleRow;
  }
}

export class BundleStore {
  constructor(
    private readonly db: Kysely<ControllerTables>,
    private readonly keyring: BundleKeyring,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** The current signed bundle for a role whose body is `bundle`. */
  async signedFor(role: string, bundle: Record<string, unknown>): Promise<SignedBundle> {
    const version = bundleVersion(bundle);
    const { kid } = await this.keyring.signingKey();
    const nowS = this.now() / 1000;
    const row = await this.db.selectFrom('policy_bundles').selectAll().where('role', '=', role).executeTakeFirst();
    if (row) {
      const issuedAt = Number(row.issued_at);
      const expiresAt = Number(row.expires_at);
      const halfLife = (expiresAt - issuedAt) / 2;
      if (row.version === version && row.kid === kid && expiresAt - nowS > halfLife) {
        return { role, version, kid, jws: row.jws, etag: row.etag, issuedAt, expiresAt };
      }
    }
    const signed = await signBundle(this.keyring, role, bundle, this.ttlMs, this.now());
    const values = { version: signed.version, kid: signed.kid, jws: signed.jws, etag: signed.etag, issued_at: signed.issuedAt, expires_at: signed.expiresAt };
    await this.db
      .insertInto('policy_bundles')
      .values({ role, ...values })
      .onConflict((oc) => oc.column('role').doUpdateSet(values))
      .execute();
    return signed;
  }
}
