/**
 * Bearer-JWT authentication for every route. A route says who may call it in its `config.auth`:
 *   'public'                 no token (openapi, healthz, JWKS, enrolment exchange, refresh)
 *   'authenticated'          any valid token (the default when `auth` is absent)
 *   { roles: ['admin'] }     a valid token holding at least one of these roles
 * The verified caller is on `request.caller`. The web console sends no Authorization header: its
 * token rides in an HttpOnly cookie, and its writes carry a CSRF header (controller/console/session.ts).
 *
 * Every token carries a tenant. The directory, profiles and bundles are the controller's own
 * tenant's data, so a token of another tenant is refused on every route unless the route says
 * `config.tenantScope: 'rows'`: it holds rows of several tenants and checks each one itself
 * (audit ingest checks every event's tenant against the caller's).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuthError, type AccessTokens, type VerifiedCaller } from './auth/access-tokens.js';
import { HttpError } from './http-errors.js';
import { consoleCookie, consoleRequestProblem } from './console/session.js';

export type RouteAuth = 'public' | 'authenticated' | { roles: readonly string[] };

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: RouteAuth;
    tenantScope?: 'controller' | 'rows';
  }
  interface FastifyRequest {
    caller?: VerifiedCaller;
  }
}

export const ADMIN_ROLE = 'admin';
export const adminOnly: RouteAuth = { roles: [ADMIN_ROLE] };
/** People who own the org's spend: they read the ledger and edit downshift rules (docs/controller.md). */
export const COST_OWNER_ROLE = 'cost-owner';
export const costOwnerOrAdmin: RouteAuth = { roles: [ADMIN_ROLE, COST_OWNER_ROLE] };

const challenge = (description: string) => ({
  'www-authenticate': `Bearer realm="switchboard-controller", error="invalid_token", error_description="${description.replace(/"/g, "'")}"`,
});

/**
 * `sessionActive`: for tokens minted from an OIDC sign-in (`sid` claim), whether that sign-in is
 * still live, so `switchboard logout` stops its tokens at once rather than at expiry.
 */
export function installRouteAuth(app: FastifyInstance, tokens: AccessTokens, sessionActive?: (sid: string) => Promise<boolean>): void {
  app.decorateRequest('caller', undefined);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    // Unknown routes have no config; let them reach the 404 handler.
    if (!request.routeOptions.url) return;
    const auth = request.routeOptions.config.auth ?? 'authenticated';
    if (auth === 'public') return;
    const header = request.headers.authorization;
    const cookie = header ? undefined : consoleCookie(request);
    if (!header && !cookie) throw new HttpError(401, 'missing bearer token (send "Authorization: Bearer <token>")', { 'www-authenticate': 'Bearer realm="switchboard-controller"' });
    const match = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (header && !match) throw new HttpError(401, 'authorization header must be "Bearer <token>"', challenge('malformed authorization header'));
    try {
      request.caller = await tokens.verify(match ? match[1]! : cookie!);
    } catch (err) {
      if (err instanceof AuthError) throw new HttpError(401, cookie ? `console session: ${err.message}; sign in again` : err.message, challenge(err.message));
      throw err;
    }
    if (cookie) {
      const problem = consoleRequestProblem(request, request.caller);
      if (problem) throw new HttpError(problem.status, problem.message);
    }
    const sid = request.caller.claims['sid'];
    if (typeof sid === 'string' && sessionActive && !(await sessionActive(sid))) {
      throw new HttpError(401, 'the sign-in behind this token has ended; run `switchboard login`', challenge('sign-in ended'));
    }
    const controllerTenant = tokens.settings.tenant;
    if (request.routeOptions.config.tenantScope !== 'rows' && request.caller.tenant !== controllerTenant) {
      throw new HttpError(403, `this token is for tenant "${request.caller.tenant}"; this controller serves tenant "${controllerTenant}"`);
    }
    if (auth !== 'authenticated' && !auth.roles.some((r) => request.caller!.roles.includes(r))) {
      throw new HttpError(403, `this endpoint needs one of the roles: ${auth.roles.join(', ')}`);
    }
  });
}
