/**
 * Minting and verifying the controller's access tokens (RFC 9068 style JWTs, EdDSA, `kid` in
 * the header). `mintAccessToken` is the one place tokens are made: enrolment, refresh, the
 * admin bootstrap CLI, and later OIDC sign-in all call it.
 */
import { randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, createLocalJWKSet, errors as joseErrors, type JWTPayload } from 'jose';
import { SIGNING_ALG, type SigningKeys } from './signing-keys.js';

export const ACCESS_TOKEN_TYP = 'at+jwt';
/** The brief caps access tokens at 30 minutes. */
export const MAX_ACCESS_TOKEN_TTL_S = 30 * 60;
export const DEFAULT_ACCESS_TOKEN_TTL_S = 15 * 60;
/** Allowed clock difference between the controller and its callers. */
export const CLOCK_SKEW_S = 45;

export interface TokenSettings {
  issuer: string;
  audience: string;
  /** Tenant of tokens minted without an explicit one: the controller's own tenant. */
  tenant: string;
}

export interface MintRequest {
  /** Who the token speaks for: a person id, `gateway:<name>`, `admin:<name>`. */
  subject: string;
  roles: readonly string[];
  ttlSeconds?: number;
  /** How the subject proved itself ("enrolment", "refresh", "admin-cli", later "oidc"). */
  authMethod: string;
  /** Tenant the token speaks for; default: `claims.tenant`, else the controller's tenant. Every token carries one. */
  tenant?: string;
  /** Optional extra claims (e.g. `tenant`, `act` for delegation) that must not override the core ones. */
  claims?: Record<string, string | number | boolean | Record<string, string>>;
}

export interface MintedToken {
  token: string;
  expiresAt: number;
  expiresIn: number;
}

export interface VerifiedCaller {
  subject: string;
  roles: string[];
  /** The tenant whose data this token may read and write. */
  tenant: string;
  tokenId: string;
  expiresAt: number;
  claims: JWTPayload;
}

/** A token that failed verification; `message` is safe to return to the caller. */
export class AuthError extends Error {
  override name = 'AuthError';
}

const ROLE_NAME = /^[a-z][a-z0-9_-]{0,63}$/;
export const TENANT_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Verified tokens remembered (by their exact text) at most; the oldest is dropped first. */
const VERIFIED_CACHE_MAX = 10_000;

export class AccessTokens {
  private readonly jwks;
  /**
   * Tokens that verified, by their exact text, with the key list they verified under and the
   * last second they stay valid. An agent sends the same token with every poll, heartbeat and
   * result for minutes; verifying its Ed25519 signature again each time was ~1 ms of CPU per
   * request. A key rotation or retirement (a new key list) drops the whole cache; expiry is
   * checked on every hit. Only successes are kept: a bad token is checked in full every time.
   */
  private verified = new Map<string, { caller: VerifiedCaller; keys: unknown; validUntil: number }>();

  constructor(
    private readonly keys: SigningKeys,
    readonly settings: TokenSettings,
  ) {
    // Reads keys.jwks() on every lookup, so a rotation is seen without a restart; the key set is
    // rebuilt only when the key list changed (a new set imported the public key again on every
    // request: CPU on every authenticated call).
    let cached: { keys: unknown; set: ReturnType<typeof createLocalJWKSet> } | undefined;
    this.jwks = (header: Parameters<ReturnType<typeof createLocalJWKSet>>[0], token: Parameters<ReturnType<typeof createLocalJWKSet>>[1]) => {
      const current = this.keys.jwks();
      if (cached?.keys !== current.keys) cached = { keys: current.keys, set: createLocalJWKSet(current) };
      return cached.set(header, token);
    };
  }

  async mintAccessToken(req: MintRequest): Promise<MintedToken> {
    const ttl = req.ttlSeconds ?? DEFAULT_ACCESS_TOKEN_TTL_S;
    if (!Number.isInteger(ttl) || ttl <= 0 || ttl > MAX_ACCESS_TOKEN_TTL_S) {
      throw new RangeError(`access token TTL must be 1-${MAX_ACCESS_TOKEN_TTL_S} seconds (got ${ttl})`);
    }
    if (req.roles.length === 0 || !req.roles.every((r) => ROLE_NAME.test(r))) {
      throw new RangeError(`roles must be a non-empty list of names matching ${ROLE_NAME.source}`);
    }
    const claimTenant = req.claims?.tenant;
    const tenant = req.tenant ?? (typeof claimTenant === 'string' ? claimTenant : this.settings.tenant);
    if (!TENANT_PATTERN.test(tenant)) throw new RangeError(`tenant must match ${TENANT_PATTERN.source} (got "${tenant}")`);
    const { kid, privateKey } = this.keys.current();
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ ...req.claims, tenant, roles: [...req.roles], amr: [req.authMethod] })
      .setProtectedHeader({ alg: SIGNING_ALG, kid, typ: ACCESS_TOKEN_TYP })
      .setIssuer(this.settings.issuer)
      .setAudience(this.settings.audience)
      .setSubject(req.subject)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + ttl)
      .setJti(randomUUID())
      .sign(privateKey);
    return { token, expiresAt: now + ttl, expiresIn: ttl };
  }

  /** Verifies signature, typ, iss, aud, exp/nbf (with skew), max age, sub and roles. */
  async verify(token: string): Promise<VerifiedCaller> {
    const keys = this.keys.jwks().keys;
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.keys === keys && Date.now() / 1000 <= hit.validUntil) return copyCaller(hit.caller);
      this.verified.delete(token);
    }
    const caller = await this.verifyFully(token);
    if (this.verified.size && this.verified.values().next().value!.keys !== keys) this.verified = new Map();
    if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.delete(this.verified.keys().next().value!);
    // What jwtVerify allows: exp and the maximum age from iat, each with the clock skew.
    const iat = typeof caller.claims.iat === 'number' ? caller.claims.iat : caller.expiresAt;
    this.verified.set(token, { caller: copyCaller(caller), keys, validUntil: Math.min(caller.expiresAt + CLOCK_SKEW_S, iat + MAX_ACCESS_TOKEN_TTL_S + CLOCK_SKEW_S) });
    return caller;
  }

  private async verifyFully(token: string): Promise<VerifiedCaller> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.jwks, {
        algorithms: [SIGNING_ALG],
        typ: ACCESS_TOKEN_TYP,
        issuer: this.settings.issuer,
        audience: this.settings.audience,
        clockTolerance: CLOCK_SKEW_S,
        maxTokenAge: `${MAX_ACCESS_TOKEN_TTL_S + CLOCK_SKEW_S}s`,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      }));
    } catch (err) {
      throw new AuthError(describeJoseError(err));
    }
    const roles = payload.roles;
    if (!Array.isArray(roles) || roles.length === 0 || !roles.every((r): r is string => typeof r === 'string' && ROLE_NAME.test(r))) {
      throw new AuthError('token has no valid "roles" claim');
    }
    const tenant = payload.tenant;
    if (typeof tenant !== 'string' || !TENANT_PATTERN.test(tenant)) throw new AuthError('token has no valid "tenant" claim');
    if (typeof payload.exp === 'number' && typeof payload.iat === 'number' && payload.exp - payload.iat > MAX_ACCESS_TOKEN_TTL_S) {
      throw new AuthError(`token lifetime exceeds ${MAX_ACCESS_TOKEN_TTL_S} seconds`);
    }
    return { subject: payload.sub!, roles, tenant, tokenId: payload.jti!, expiresAt: payload.exp!, claims: payload };
  }
}

/** Callers get their own copy: nothing they change reaches the cache. */
function copyCaller(c: VerifiedCaller): VerifiedCaller {
  return { ...c, roles: [...c.roles], claims: structuredClone(c.claims) };
}

function describeJoseError(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return 'token has expired';
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return 'token audience is not this controller';
    if (err.claim === 'iss') return 'token issuer is not this controller';
    if (err.claim === 'nbf') return 'token is not valid yet';
    if (err.claim === 'typ') return 'token type must be at+jwt';
    return `token claim "${err.claim}" is invalid: ${err.reason}`;
  }
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'token signature is invalid';
  if (err instanceof joseErrors.JWKSNoMatchingKey) return 'token was signed by an unknown key';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'token algorithm is not allowed (EdDSA only)';
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return 'token is malformed';
  return 'token is invalid';
}
