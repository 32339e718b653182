/**
 * OIDC sign-in routes (public: the ID token or session token is the credential).
 *   GET  /api/v1/oidc/issuers    what `switchboard login` needs to start a flow
 *   POST /api/v1/oidc/sign-in    ID token → agent JWT + session token
 *   POST /api/v1/oidc/renew      session token → agent JWT + new session token (rotation)
 *   POST /api/v1/oidc/sign-out   revoke the sign-in
 */
import type { AreaPlugin } from '../../plugins.js';
import { HttpError } from '../../http-errors.js';
import { OidcRejected } from './id-token.js';
import { OidcForbidden } from './identity.js';
import type { OidcSignIn, SignInResult } from './sign-in.js';

const signInResponse = {
  $id: 'SignInResponse',
  type: 'object',
  required: ['access_token', 'token_type', 'expires_in', 'session_token', 'session_expires_at', 'subject', 'roles', 'issuer'],
  properties: {
    access_token: { type: 'string', description: 'the agent JWT (EdDSA, at+jwt, ≤ 30 min)' },
    token_type: { const: 'Bearer' },
    expires_in: { type: 'integer', description: 'seconds' },
    session_token: { type: 'string', description: 'single use; every renewal returns a new one' },
    session_expires_at: { type: 'integer', description: 'unix seconds; the sign-in ends then whatever renewals happen' },
    subject: { type: 'string' },
    roles: { type: 'array', items: { type: 'string' } },
    issuer: { type: 'string', description: 'name of the identity provider' },
  },
} as const;

const toResponse = (r: SignInResult) => ({
  access_token: r.accessToken.token,
  token_type: 'Bearer' as const,
  expires_in: r.accessToken.expiresIn,
  session_token: r.sessionToken,
  session_expires_at: r.sessionExpiresAt,
  subject: r.subject,
  roles: r.roles,
  issuer: r.issuer,
});

const errors = { 400: { $ref: 'ErrorResponse#' }, 401: { $ref: 'ErrorResponse#' }, 403: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' } };
const sessionBody = {
  type: 'object',
  additionalProperties: false,
  required: ['session_token'],
  properties: { session_token: { type: 'string', minLength: 8, maxLength: 200 } },
} as const;

function configured(oidc: OidcSignIn | undefined): OidcSignIn {
  if (!oidc) throw new HttpError(404, 'OIDC sign-in is not configured on this controller (start it with --oidc FILE)');
  return oidc;
}

async function refusalsAsHttp<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof OidcForbidden) throw new HttpError(403, err.message);
    if (err instanceof OidcRejected) throw new HttpError(401, err.message);
    throw err;
  }
}

export const oidcRoutes: AreaPlugin = async (app, { services }) => {
  app.addSchema(signInResponse);

  app.get('/api/v1/oidc/issuers', {
    config: { auth: 'public' },
    schema: {
      tags: ['auth'],
      summary: 'Identity providers this controller trusts (for `switchboard login`)',
      security: [],
      response: {
        200: {
          type: 'object',
          required: ['issuers'],
          properties: {
            issuers: {
              type: 'array',
              items: {
                type: 'object',
                required: ['name', 'issuer', 'clientId', 'scopes'],
                properties: { name: { type: 'string' }, issuer: { type: 'string' }, clientId: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } } },
              },
            },
          },
        },
        404: { $ref: 'ErrorResponse#' },
      },
    },
  }, async () => ({ issuers: configured(services.oidc).publicIssuers() }));

  app.post<{ Body: { id_token: string } }>('/api/v1/oidc/sign-in', {
    config: { auth: 'public' },
    schema: {
      tags: ['auth'],
      summary: "Exchange an identity provider's ID token for the person's agent JWT and a session token",
      security: [],
      body: { type: 'object', additionalProperties: false, required: ['id_token'], properties: { id_token: { type: 'string', minLength: 16, maxLength: 16384 } } },
      response: { 200: { $ref: 'SignInResponse#' }, ...errors },
    },
  }, async (request) => toResponse(await refusalsAsHttp(() => configured(services.oidc).signIn(request.body.id_token))));

  app.post<{ Body: { session_token: string } }>('/api/v1/oidc/renew', {
    config: { auth: 'public' },
    schema: {
      tags: ['auth'],
      summary: 'Renew the agent JWT of a sign-in (rotates the session token)',
      security: [],
      body: sessionBody,
      response: { 200: { $ref: 'SignInResponse#' }, ...errors },
    },
  }, async (request) => toResponse(await refusalsAsHttp(() => configured(services.oidc).renew(request.body.session_token))));

  app.post<{ Body: { session_token: string } }>('/api/v1/oidc/sign-out', {
    config: { auth: 'public' },
    schema: {
      tags: ['auth'],
      summary: 'End a sign-in: its session token and the agent JWTs minted from it stop working',
      security: [],
      body: sessionBody,
      response: { 204: { type: 'null' }, ...errors },
    },
  }, async (request, reply) => {
    await configured(services.oidc).signOut(request.body.session_token);
    return reply.code(204).send();
  });
};
