/**
 * Verifies a signed policy bundle before the gateway trusts it: a real EdDSA signature by a
 * key in the controller's JWKS, the bundle typ, not expired, for this gateway's role, and a
 * payload that passes the bundle schema. Every refusal names its reason.
 */
import { compactVerify, createLocalJWKSet, decodeProtectedHeader, errors as joseErrors, type JSONWebKeySet } from 'jose';
import { BUNDLE_ALG, BUNDLE_JWS_TYP, type BundleClaims } from '../../policies/bundle/format.js';

export type BundleRefusal =
  | 'unsigned'
  | 'malformed'
  | 'unknown-key'
  | 'bad-signature'
  | 'expired'
  | 'not-yet-valid'
  | 'wrong-role'
  | 'schema'
  | 'rollback';

export class BundleRejectedError extends Error {
  override name = 'BundleRejectedError';
  constructor(readonly reason: BundleRefusal, message: string) {
    super(message);
  }
}

export interface VerifiedBundle {
  role: string;
  version: string;
  kid: string;
  /** Epoch seconds. */
  issuedAt: number;
  expiresAt: number;
  bundle: Record<string, unknown>;
  jws: string;
}

export interface VerifyBundleOptions {
  jwks: JSONWebKeySet;
  role: string;
  /** Checks the bundle body; returns problems (empty when valid). */
  validate: (bundle: unknown) => string[];
  nowMs?: number;
  /** Accepted clock difference with the controller. Default 60 s. */
  clockToleranceS?: number;
  /** When given, a bundle older than this is refused (replay of a superseded bundle). */
  notIssuedBefore?: number;
  /** Skip the expiry check (re-reading the last good bundle from disk). */
  allowExpired?: boolean;
}

export async function verifyBundle(jws: string, opts: VerifyBundleOptions): Promise<VerifiedBundle> {
  const parts = jws.trim().split('.');
  if (parts.length !== 3) {
    throw new BundleRejectedError(jws.trim().startsWith('{') ? 'unsigned' : 'malformed', jws.trim().startsWith('{') ? 'bundle is plain JSON, not a signed JWS' : 'bundle is not a compact JWS');
  }
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(jws);
  } catch {
    throw new BundleRejectedError('malformed', 'bundle JWS header is not valid JSON');
  }
  if (!header.alg || header.alg === 'none' || parts[2] === '') throw new BundleRejectedError('unsigned', 'bundle carries no signature (alg "none" or empty signature)');
  if (header.alg !== BUNDLE_ALG) throw new BundleRejectedError('bad-signature', `bundle is signed with ${header.alg}; only ${BUNDLE_ALG} is accepted`);
  if (header.typ !== BUNDLE_JWS_TYP) throw new BundleRejectedError('malformed', `bundle typ must be ${BUNDLE_JWS_TYP} (got ${String(header.typ)})`);
  if (!header.kid) throw new BundleRejectedError('unknown-key', 'bundle header has no kid');

  let payloadBytes: Uint8Array;
  try {
    ({ payload: payloadBytes } = await compactVerify(jws, createLocalJWKSet(opts.jwks), { algorithms: [BUNDLE_ALG] }));
  } catch (err) {
    if (err instanceof joseErrors.JWKSNoMatchingKey) throw new BundleRejectedError('unknown-key', `bundle is signed by key ${header.kid}, which the controller does not publish`);
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) throw new BundleRejectedError('bad-signature', 'bundle signature does not match its content (tampered)');
    throw new BundleRejectedError('malformed', `bundle JWS is invalid: ${(err as Error).message}`);
  }
  let claims: Partial<BundleClaims>;
  try {
    claims = JSON.parse(new TextDecoder().decode(payloadBytes)) as Partial<BundleClaims>;
  } catch {
    throw new BundleRejectedError('malformed', 'bundle payload is not JSON');
  }
  if (typeof claims.role !== 'string' || typeof claims.ver !== 'string' || typeof claims.iat !== 'number' || typeof claims.exp !== 'number' || !isObject(claims.bundle)) {
    throw new BundleRejectedError('malformed', 'bundle payload lacks role, ver, iat, exp or bundle');
  }
  const nowS = (opts.nowMs ?? Date.now()) / 1000;
  const tolerance = opts.clockToleranceS ?? 60;
  if (claims.role !== opts.role) throw new BundleRejectedError('wrong-role', `bundle is for role "${claims.role}", this gateway serves role "${opts.role}"`);
  if (!opts.allowExpired && claims.exp + tolerance <= nowS) {
    throw new BundleRejectedError('expired', `bundle version ${claims.ver} expired at ${new Date(claims.exp * 1000).toISOString()}`);
  }
  if (claims.iat - tolerance > nowS) throw new BundleRejectedError('not-yet-valid', `bundle is issued in the future (${new Date(claims.iat * 1000).toISOString()})`);
  if (opts.notIssuedBefore !== undefined && claims.iat < opts.notIssuedBefore) {
    throw new BundleRejectedError('rollback', `bundle issued ${new Date(claims.iat * 1000).toISOString()} is older than the one in use`);
  }
  const problems = opts.validate(claims.bundle);
  if (problems.length > 0) throw new BundleRejectedError('schema', `bundle fails the bundle schema: ${problems.slice(0, 5).join('; ')}`);
  return { role: claims.role, version: claims.ver, kid: header.kid, issuedAt: claims.iat, expiresAt: claims.exp, bundle: claims.bundle, jws: jws.trim() };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
