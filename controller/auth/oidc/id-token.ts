/**
 * Verifying an IdP's ID token: find the trusted issuer it names, fetch that issuer's discovery
 * document and JWKS (cached; jose refetches on an unknown `kid`), then check signature, issuer,
 * audience, expiry and age with a little clock tolerance.
 */
import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { OidcIssuerConfig } from './config.js';

/** Accepted ID token algorithms; never `none`, never HMAC (the client has no shared secret). */
const ID_TOKEN_ALGS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'];
/** Clock difference tolerated between the IdP and the controller. */
export const OIDC_CLOCK_SKEW_S = 60;
/** An ID token older than this is not a fresh sign-in. */
export const ID_TOKEN_MAX_AGE_S = 15 * 60;

/** An ID token the controller will not accept; the message is safe to return. */
export class OidcRejected extends Error {
  override name = 'OidcRejected';
}

interface Discovered {
  jwks: ReturnType<typeof createRemoteJWKSet>;
  issuer: string;
}

export class IdTokenVerifier {
  private readonly discovered = new Map<string, Promise<Discovered>>();

  constructor(private readonly issuers: readonly OidcIssuerConfig[]) {}

  /** The trusted issuer this token names (unverified read of `iss`), or a refusal. */
  issuerOf(idToken: string): OidcIssuerConfig {
    let iss: unknown;
    try {
      iss = decodeJwt(idToken).iss;
    } catch {
      throw new OidcRejected('ID token is malformed');
    }
    const found = typeof iss === 'string' ? this.issuers.find((i) => i.issuer === iss.replace(/\/+$/, '')) : undefined;
    if (!found) throw new OidcRejected('ID token issuer is not trusted by this controller');
    return found;
  }

  async verify(idToken: string): Promise<{ issuer: OidcIssuerConfig; claims: JWTPayload }> {
    const issuer = this.issuerOf(idToken);
    const { jwks, issuer: discoveredIssuer } = await this.discover(issuer);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(idToken, jwks, {
        algorithms: ID_TOKEN_ALGS,
        issuer: discoveredIssuer,
        audience: issuer.audiences,
        clockTolerance: OIDC_CLOCK_SKEW_S,
        maxTokenAge: `${ID_TOKEN_MAX_AGE_S}s`,
        requiredClaims: ['sub', 'exp', 'iat'],
      }));
    } catch (err) {
      throw new OidcRejected(describe(err));
    }
    // Several audiences: the token must have been issued to one of ours (OIDC Core §3.1.3.7).
    if (Array.isArray(payload.aud) && payload.aud.length > 1 && !issuer.audiences.includes(String(payload.azp))) {
      throw new OidcRejected('ID token was issued to another client (azp)');
    }
    return { issuer, claims: payload };
  }

  private discover(issuer: OidcIssuerConfig): Promise<Discovered> {
    let pending = this.discovered.get(issuer.name);
    if (!pending) {
      pending = fetchDiscovery(issuer);
      // A failed discovery is retried on the next sign-in rather than cached.
      pending.catch(() => this.discovered.delete(issuer.name));
      this.discovered.set(issuer.name, pending);
    }
    return pending;
  }
}

async function fetchDiscovery(issuer: OidcIssuerConfig): Promise<Discovered> {
  const url = `${issuer.issuer}/.well-known/openid-configuration`;
  let doc: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000), headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    doc = (await res.json()) as typeof doc;
  } catch (err) {
    throw new OidcRejected(`cannot reach identity provider "${issuer.name}" (${(err as Error).message})`);
  }
  if (typeof doc.issuer !== 'string' || doc.issuer.replace(/\/+$/, '') !== issuer.issuer) {
    throw new OidcRejected(`identity provider "${issuer.name}" names a different issuer in its discovery document`);
  }
  if (typeof doc.jwks_uri !== 'string' || !/^https?:\/\//.test(doc.jwks_uri) || (doc.jwks_uri.startsWith('http://') && !issuer.allowInsecure)) {
    throw new OidcRejected(`identity provider "${issuer.name}" has no usable jwks_uri`);
  }
  return { jwks: createRemoteJWKSet(new URL(doc.jwks_uri)), issuer: doc.issuer };
}

function describe(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'ID token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return 'ID token audience is not an allowed client';
    if (err.claim === 'iss') return 'ID token issuer does not match';
    if (err.claim === 'nbf') return 'ID token is not valid yet';
    if (err.claim === 'iat') return err.reason === 'check_failed' ? 'ID token is too old; sign in again' : 'ID token issue time is in the future';
    return `ID token claim "${err.claim}" is invalid`;
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'ID token signature is invalid';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'ID token was signed by a key the identity provider does not publish';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'ID token algorithm is not allowed';
  if (err instanceof joseErrors.JWKSTimeout) return 'identity provider keys could not be fetched in time';
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return 'ID token is malformed';
  return 'ID token is invalid';
}
