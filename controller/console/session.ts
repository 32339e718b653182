/**
 * Console sessions: the web console never holds a bearer token in script. Signing in (an admin
 * token, or OIDC at the controller) mints a short-lived console access token that lives only in
 * an HttpOnly, SameSite=Strict cookie. Writes made with that cookie must also carry the session's
 * CSRF token in a header, which a cross-site page can neither read nor send (custom headers
 * need a CORS preflight this controller never grants).
 */
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AccessTokens, MintedToken, VerifiedCaller } from '../auth/access-tokens.js';
import { CSRF_HEADER, type ConsoleSession } from './session-contract.js';

export { CSRF_HEADER, type ConsoleSession };

export const CONSOLE_COOKIE = 'sb_console';
export const CONSOLE_AUTH_METHOD = 'console';
/** One console token lives 15 minutes; the console renews it while the sign-in lasts. */
export const CONSOLE_TOKEN_TTL_S = 15 * 60;
/** An admin-token sign-in ends after 8 hours whatever renewals happen (OIDC ones end with their sign-in). */
export const CONSOLE_MAX_SESSION_S = 8 * 3600;

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Claims a console token copies from the credential it was made from. */
const CARRIED_CLAIMS = ['tenant', 'idp', 'sid', 'org_unit'] as const;

/**
 * Mints the console token for someone already proved (a verified token, or a fresh OIDC
 * sign-in's token): same subject, roles and tenant, plus the CSRF secret and the session end.
 */
export async function mintConsoleToken(
  tokens: AccessTokens,
  from: VerifiedCaller,
  opts: { signedInWith: 'admin-token' | 'oidc'; sessionEndsAt?: number; csrf?: string },
): Promise<{ minted: MintedToken; session: ConsoleSession }> {
  const now = Math.floor(Date.now() / 1000);
  const sessionEndsAt = opts.sessionEndsAt ?? now + CONSOLE_MAX_SESSION_S;
  const ttl = Math.max(1, Math.min(CONSOLE_TOKEN_TTL_S, sessionEndsAt - now));
  const csrf = opts.csrf ?? randomBytes(24).toString('base64url');
  const claims: Record<string, string | number> = { csrf, sx: sessionEndsAt, via: opts.signedInWith };
  for (const c of CARRIED_CLAIMS) {
    const v = from.claims[c];
    if (typeof v === 'string') claims[c] = v;
  }
  const minted = await tokens.mintAccessToken({ subject: from.subject, roles: from.roles, tenant: from.tenant, ttlSeconds: ttl, authMethod: CONSOLE_AUTH_METHOD, claims });
  return { minted, session: sessionOf(from.subject, from.roles, claims, minted.expiresAt) };
}

function sessionOf(subject: string, roles: string[], claims: Record<string, unknown>, expiresAt: number): ConsoleSession {
  const via = claims['via'] === 'oidc' ? 'oidc' : 'admin-token';
  const idp = claims['idp'];
  return {
    subject,
    roles,
    csrf: String(claims['csrf']),
    expiresAt,
    sessionEndsAt: Number(claims['sx']),
    signedInWith: via,
    ...(typeof idp === 'string' ? { idp } : {}),
  };
}

export function isConsoleToken(caller: VerifiedCaller): boolean {
  const amr = caller.claims['amr'];
  return Array.isArray(amr) && amr.includes(CONSOLE_AUTH_METHOD);
}

export function consoleSessionOf(caller: VerifiedCaller): ConsoleSession {
  return sessionOf(caller.subject, caller.roles, caller.claims as Record<string, unknown>, caller.expiresAt);
}

export function setConsoleCookie(request: FastifyRequest, reply: FastifyReply, minted: MintedToken): void {
  reply.setCookie(CONSOLE_COOKIE, minted.token, {
    path: '/',
    httpOnly: true,
    sameSite: 'strict',
    secure: request.protocol === 'https',
    maxAge: minted.expiresIn,
  });
}

export function clearConsoleCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(CONSOLE_COOKIE, { path: '/', httpOnly: true, sameSite: 'strict', secure: request.protocol === 'https' });
}

/** The console token a request carries in its cookie, if any. */
export function consoleCookie(request: FastifyRequest): string | undefined {
  const value = request.cookies?.[CONSOLE_COOKIE];
  return value ? value : undefined;
}

/** Why a cookie-authenticated request must be refused, or undefined when it may go on. */
export function consoleRequestProblem(request: FastifyRequest, caller: VerifiedCaller): { status: 401 | 403; message: string } | undefined {
  if (!isConsoleToken(caller)) return { status: 401, message: 'the console cookie does not hold a console session; sign in again at /console/' };
  if (SAFE_METHODS.has(request.method)) return undefined;
  const sent = request.headers[CSRF_HEADER];
  if (typeof sent !== 'string' || sent !== caller.claims['csrf']) return { status: 403, message: `a console write needs the session's ${CSRF_HEADER} header` };
  return undefined;
}
