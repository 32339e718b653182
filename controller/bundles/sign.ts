/** Signs one role's bundle as a compact JWS with the keyring's current key. */
import { SignJWT } from 'jose';
import { BUNDLE_ALG, BUNDLE_JWS_TYP, bundleEtag, bundleVersion } from '../../policies/bundle/format.js';
import type { BundleKeyring } from './keyring.js';

export interface SignedBundle {
  role: string;
  version: string;
  kid: string;
  jws: string;
  etag: string;
  /** Epoch seconds. */
  issuedAt: number;
  expiresAt: number;
}

export async function signBundle(
  keyring: BundleKeyring,
  role: string,
  bundle: Record<string, unknown>,
  ttlMs: number,
  nowMs = Date.now(),
): Promise<SignedBundle> {
  const { kid, privateKey } = await keyring.signingKey();
  const version = bundleVersion(bundle);
  const issuedAt = Math.floor(nowMs / 1000);
  const expiresAt = issuedAt + Math.max(1, Math.floor(ttlMs / 1000));
  const jws = await new SignJWT({ role, ver: version, bundle })
    .setProtectedHeader({ alg: BUNDLE_ALG, kid, typ: BUNDLE_JWS_TYP })
    .setIssuedAt(issuedAt)
    .setExpirationTime(expiresAt)
    .sign(privateKey);
  return { role, version, kid, jws, etag: bundleEtag(jws), issuedAt, expiresAt };
}
