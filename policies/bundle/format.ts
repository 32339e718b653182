/**
 * The signed policy bundle on the wire: a compact JWS (EdDSA, `kid` and `typ` in the protected
 * header) whose payload is a JWT claim set carrying one role's bundle. Shared by the controller
 * (signer) and the gateway (verifier) so both agree on every name.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import { calculateJwkThumbprint, type JWK } from 'jose';

export const BUNDLE_JWS_TYP = 'sb-bundle+jwt';
export const BUNDLE_ALG = 'EdDSA';

/** The claims of a signed bundle. `iat`/`exp` are seconds since the epoch (JWT style). */
export interface BundleClaims {
  /** Role the bundle is for; a gateway refuses a bundle for any other role. */
  role: string;
  /** Content version: a hash of the canonical bundle, stable across re-signing. */
  ver: string;
  iat: number;
  exp: number;
  /** The bundle itself (validated against policies/schema/bundle.schema.json). */
  bundle: Record<string, unknown>;
}

/** Version of a bundle's content: first 16 hex of SHA-256 over its canonical JSON. */
export function bundleVersion(bundle: Record<string, unknown>): string {
  const text = canonicalize(bundle);
  if (text === undefined) throw new Error('bundle is not serialisable');
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/** Strong ETag of a signed bundle: the hash of the exact bytes served. */
export function bundleEtag(jws: string): string {
  return `"${createHash('sha256').update(jws).digest('base64url').slice(0, 27)}"`;
}

/**
 * Fingerprint of a bundle key set: SHA-256 over the sorted RFC 7638 thumbprints of its keys,
 * first 22 base64url characters. Carried in enrolment codes so a gateway can check, before it
 * trusts anything, that the keys it fetched are the ones the controller's admin saw.
 */
export async function keySetFingerprint(jwks: { keys: readonly JWK[] }): Promise<string> {
  const thumbprints = await Promise.all(jwks.keys.map((k) => calculateJwkThumbprint(k, 'sha256')));
  return createHash('sha256').update(thumbprints.sort().join(',')).digest('base64url').slice(0, 22);
}

/** What a key-set proof signs: the canonical JSON of the key list. */
export function keySetProofPayload(jwks: { keys: readonly JWK[] }): Uint8Array {
  const text = canonicalize({ keys: jwks.keys });
  if (text === undefined) throw new Error('key set is not serialisable');
  return new TextEncoder().encode(text);
}
