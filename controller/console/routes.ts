/**
 * The owners' web console: its static files at /console/ (built by Vite into dist/, see
 * controller/console/web/), its sign-in (an admin token, or OIDC at the controller) and its
 * session. Everything else it shows comes from the ordinary API routes, called with the console
 * cookie (controller/console/session.ts).
 *
 *   GET    /console/                         the app (static, strict CSP)
 *   GET    /api/v1/console/config            which sign-in methods this controller offers
 *   POST   /api/v1/console/session           admin (or any controller) token → console session cookie
 *   GET    /api/v1/console/session           who is signed in, the CSRF token; renews the cookie
 *   DELETE /api/v1/console/session           sign out (ends the OIDC sign-in too)
 *   GET    /console/auth/oidc/start          → the IdP (authorization code + PKCE)
 *   GET    /console/auth/oidc/callback       ← the IdP; sets the session cookie, → /console/
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { AreaPlugin } from '../plugins.js';
import { HttpError, authErrorResponses } from '../http-errors.js';
import { AuthError } from '../auth/access-tokens.js';
import { OidcRejected } from '../auth/oidc/id-token.js';
import { OidcForbidden } from '../auth/oidc/identity.js';
import {
  CONSOLE_TOKEN_TTL_S,
  clearConsoleCookie,
  consoleSessionOf,
  isConsoleToken,
  mintConsoleToken,
  setConsoleCookie,
  type ConsoleSession,
} from './session.js';
import { CALLBACK_PATH, ConsoleOidcFlow, ConsoleSignInError } from './oidc-flow.js';

/**
 * Where the built app is: next to this module in the package (dist/controller/console/public);
 * when running from the sources, the last `npm run build`'s output.
 */
export function consoleAssetsDir(): string | undefined {
  const candidates = [new URL('./public/', import.meta.url), new URL('../../dist/controller/console/public/', import.meta.url)];
  return candidates.map((u) => fileURLToPath(u)).find((dir) => existsSync(`${dir}index.html`));
}

/** The app is served from this origin only; it loads nothing from anywhere else. */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const securityHeaders = {
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'x-frame-options': 'DENY',
};

const sessionSchema = {
  $id: 'ConsoleSession',
  type: 'object',
  required: ['subject', 'roles', 'csrf', 'expiresAt', 'sessionEndsAt', 'signedInWith'],
  properties: {
    subject: { type: 'string' },
    roles: { type: 'array', items: { type: 'string' } },
    csrf: { type: 'string', description: 'send it back in the x-switchboard-csrf header on every write' },
    expiresAt: { type: 'integer', description: 'unix seconds; the console renews before then' },
    sessionEndsAt: { type: 'integer', description: 'unix seconds; sign in again after this' },
    signedInWith: { enum: ['admin-token', 'oidc'] },
    idp: { type: 'string' },
  },
} as const;

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export const consoleRoutes: AreaPlugin = async (app, { services }) => {
  const oidc = services.oidc;
  const flow = oidc ? new ConsoleOidcFlow(oidc.config.issuers, oidc.config.consoleUrl) : undefined;
  app.addSchema(sessionSchema);

  app.get('/api/v1/console/config', {
    config: { auth: 'public' },
    schema: {
      tags: ['console'],
      summary: 'Sign-in methods the web console offers on this controller',
      security: [],
      response: {
        200: {
          type: 'object',
          required: ['oidcIssuers', 'adminToken'],
          properties: { oidcIssuers: { type: 'array', items: { type: 'string' } }, adminToken: { type: 'boolean' } },
        },
      },
    },
  }, async () => ({ oidcIssuers: oidc ? oidc.config.issuers.map((i) => i.name) : [], adminToken: true }));

  app.post<{ Body: { token: string } }>('/api/v1/console/session', {
    config: { auth: 'public' },
    schema: {
      tags: ['console'],
      summary: 'Sign in to the console with a controller token (e.g. `switchboard controller token --admin`); sets an HttpOnly session cookie',
      security: [],
      body: { type: 'object', additionalProperties: false, required: ['token'], properties: { token: { type: 'string', minLength: 16, maxLength: 16384 } } },
      response: { 200: { $ref: 'ConsoleSession#' }, 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' } },
    },
  }, async (request, reply) => {
    let caller;
    try {
      caller = await services.tokens.verify(request.body.token.trim());
    } catch (err) {
      if (err instanceof AuthError) throw new HttpError(401, `that token cannot sign in: ${err.message}`);
      throw err;
    }
    if (caller.tenant !== services.tokens.settings.tenant) throw new HttpError(403, `that token is for tenant "${caller.tenant}"; this controller serves "${services.tokens.settings.tenant}"`);
    if (isConsoleToken(caller)) throw new HttpError(400, 'that is a console session token; paste an admin token instead');
    const sid = caller.claims['sid'];
    if (typeof sid === 'string' && oidc && !(await oidc.sessionActive(sid))) throw new HttpError(401, 'the sign-in behind that token has ended');
    const { minted, session } = await mintConsoleToken(services.tokens, caller, { signedInWith: 'admin-token' });
    setConsoleCookie(request, reply, minted);
    return session;
  });

  app.get('/api/v1/console/session', {
    schema: {
      tags: ['console'],
      summary: 'The signed-in console session (with its CSRF token); renews the session cookie when it is past half its life',
      response: { 200: { $ref: 'ConsoleSession#' }, ...authErrorResponses },
    },
  }, async (request, reply): Promise<ConsoleSession> => {
    const caller = request.caller!;
    if (!isConsoleToken(caller)) throw new HttpError(400, 'this route reads the console session cookie; bearer tokens have no console session');
    const current = consoleSessionOf(caller);
    const now = Math.floor(Date.now() / 1000);
    if (current.expiresAt - now > CONSOLE_TOKEN_TTL_S / 2 || current.sessionEndsAt <= now) return current;
    const { minted, session } = await mintConsoleToken(services.tokens, caller, {
      signedInWith: current.signedInWith,
      sessionEndsAt: current.sessionEndsAt,
      csrf: current.csrf,
    });
    setConsoleCookie(request, reply, minted);
    return session;
  });

  app.delete('/api/v1/console/session', {
    schema: {
      tags: ['console'],
      summary: 'Sign out of the console (an OIDC sign-in ends too)',
      response: { 204: { type: 'null' }, ...authErrorResponses },
    },
  }, async (request, reply) => {
    const sid = request.caller!.claims['sid'];
    if (isConsoleToken(request.caller!) && typeof sid === 'string' && oidc) await oidc.endSession(sid, 'signed out of the console');
    clearConsoleCookie(request, reply);
    return reply.code(204).send();
  });

  const signInPage = (message: string) =>
    `<!doctype html><meta charset="utf-8"><title>Switchboard console</title><p>${escapeHtml(message)}</p><p><a href="/console/">Back to the console</a></p>`;

  app.get<{ Querystring: { issuer?: string } }>('/console/auth/oidc/start', {
    config: { auth: 'public' },
    schema: {
      tags: ['console'],
      summary: "Start the console's OIDC sign-in (redirects to the identity provider)",
      security: [],
      querystring: { type: 'object', additionalProperties: false, properties: { issuer: { type: 'string', minLength: 1, maxLength: 64 } } },
      response: { 302: { type: 'null' }, 400: { type: 'string' }, 404: { $ref: 'ErrorResponse#' } },
    },
  }, async (request, reply) => {
    if (!flow) throw new HttpError(404, 'OIDC sign-in is not configured on this controller; sign in with an admin token');
    try {
      return reply.redirect(await flow.start(request, reply, request.query.issuer), 302);
    } catch (err) {
      if (!(err instanceof ConsoleSignInError)) throw err;
      return reply.code(400).headers(securityHeaders).type('text/html; charset=utf-8').send(signInPage(err.message));
    }
  });

  app.get(CALLBACK_PATH, {
    config: { auth: 'public' },
    schema: {
      tags: ['console'],
      summary: "The identity provider's redirect back to the console (authorization code)",
      security: [],
      querystring: { type: 'object', additionalProperties: true, properties: {} },
      response: { 302: { type: 'null' }, 400: { type: 'string' }, 401: { type: 'string' }, 403: { type: 'string' }, 404: { $ref: 'ErrorResponse#' } },
    },
  }, async (request, reply) => {
    if (!flow || !oidc) throw new HttpError(404, 'OIDC sign-in is not configured on this controller');
    const refuse = (status: 401 | 403, message: string) => reply.code(status).headers(securityHeaders).type('text/html; charset=utf-8').send(signInPage(message));
    try {
      const idToken = await flow.finish(request, reply);
      const signedIn = await oidc.signIn(idToken);
      const person = await services.tokens.verify(signedIn.accessToken.token);
      const { minted } = await mintConsoleToken(services.tokens, person, { signedInWith: 'oidc', sessionEndsAt: signedIn.sessionExpiresAt });
      setConsoleCookie(request, reply, minted);
      return reply.redirect('/console/', 302);
    } catch (err) {
      if (err instanceof ConsoleSignInError || err instanceof OidcRejected) return refuse(401, err.message);
      if (err instanceof OidcForbidden) return refuse(403, err.message);
      throw err;
    }
  });

  app.get('/console', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) => reply.redirect('/console/', 301));

  const root = consoleAssetsDir();
  await app.register(async (assets) => {
    // Static files are public (the app itself holds no data); everything they fetch is authorised.
    assets.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object), auth: 'public' };
    });
    assets.addHook('onSend', async (_request, reply) => {
      reply.headers(securityHeaders);
    });
    if (!root) {
      assets.get('/console/', { schema: { hide: true } }, async (_request, reply) =>
        reply.code(503).type('text/html; charset=utf-8').send(signInPage('The console is not built. Run `npm run build` (it runs Vite) and restart the controller.')),
      );
      return;
    }
    await assets.register(fastifyStatic, {
      root,
      prefix: '/console/',
      index: ['index.html'],
      // Hashed asset names never change content; index.html must be re-read to pick up a new build.
      setHeaders: (reply, path) => {
        reply.header('cache-control', path.endsWith('index.html') ? 'no-cache' : 'public, max-age=31536000, immutable');
      },
    });
  });
};
