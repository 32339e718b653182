/**
 * Signed policy bundles: GET /api/v1/bundles/{role} (ETag / If-None-Match → 304), the bundle
 * keys' JWKS, and key rotation for admins. A caller may fetch the bundle of a role it holds
 * (a gateway enrolled for finance gets finance's); admins may fetch any.
 */
import type { AreaPlugin } from '../plugins.js';
import { adminOnly, ADMIN_ROLE } from '../route-auth.js';
import { HttpError, authErrorResponses } from '../http-errors.js';
import { bundleBodyFor } from '../../policies/bundle/body.js';


const jwkSchema = {
  type: 'object',
  required: ['kty', 'kid', 'alg', 'use'],
  properties: { kty: { type: 'string' }, crv: { type: 'string' }, x: { type: 'string' }, kid: { type: 'string' }, alg: { type: 'string' }, use: { type: 'string' } },
} as const;

export const bundleRoutes: AreaPlugin = async (app, { services }) => {
  const keyring = await services.bundleKeyring();
  const store = await services.bundleStore();

  app.get<{ Params: { role: string } }>('/api/v1/bundles/:role', {
    schema: {
      tags: ['bundles'],
      summary: "One role's signed policy bundle (compact JWS, EdDSA); send If-None-Match with the last ETag",
      params: { type: 'object', required: ['role'], properties: { role: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,63}$' } } },
      headers: { type: 'object', properties: { 'if-none-match': { type: 'string', maxLength: 1024 } } },
      response: {
        200: { description: 'application/jose: the signed bundle', type: 'string' },
        304: { description: 'not modified since the ETag sent', type: 'null' },
        404: { $ref: 'ErrorResponse#' },
        ...authErrorResponses,
      },
    },
  }, async (request, reply) => {
    const { role } = request.params;
    const roles = request.caller?.roles ?? [];
    if (!roles.includes(role) && !roles.includes(ADMIN_ROLE)) {
      throw new HttpError(403, `this token may fetch bundles for ${roles.join(', ') || 'no role'}, not "${role}"`);
    }
    // Read from the database, not this replica's memory: another replica may have published rules.
    const profile = services.profiles.get(role) && (await services.profileStore.get(role))?.profile;
    if (!profile) throw new HttpError(404, `no profile for role "${role}"; roles are: ${services.profiles.roles().join(', ')}`);
    const signed = await store.signedFor(role, bundleBodyFor(profile) as unknown as Record<string, unknown>);
    reply.header('etag', signed.etag).header('cache-control', 'no-cache').header('x-bundle-version', signed.version);
    const given = request.headers['if-none-match'];
    if (given && given.split(',').some((t) => t.trim() === signed.etag || t.trim() === `W/${signed.etag}`)) {
      return reply.code(304).send();
    }
    return reply.header('content-type', 'application/jose').send(signed.jws);
  });

  app.get('/api/v1/bundle-keys', {
    config: { auth: 'public' },
    schema: {
      tags: ['bundles'],
      summary: 'Public keys (JWKS) that verify policy bundles: next, current and not-yet-expired retired keys',
      description: '`proof` is a JWS (general JSON serialization) over the canonical key list, signed by every listed key: gateways add a key only when a key they already trust signed the list.',
      security: [],
      response: {
        200: {
          type: 'object',
          required: ['keys', 'proof'],
          properties: {
            keys: { type: 'array', items: jwkSchema },
            proof: {
              type: 'object',
              required: ['payload', 'signatures'],
              properties: {
                payload: { type: 'string' },
                signatures: { type: 'array', items: { type: 'object', required: ['protected', 'signature'], properties: { protected: { type: 'string' }, signature: { type: 'string' } } } },
              },
            },
          },
        },
      },
    },
  }, async () => {
    keyring.prune();
    return keyring.signedJwks();
  });

  app.post<{ Params: { kid: string } }>('/api/v1/bundle-keys/:kid/revoke', {
    config: { auth: adminOnly },
    schema: {
      tags: ['bundles'],
      summary: 'Remove a bundle signing key at once (e.g. after a compromise); gateways stop trusting it at their next key refresh',
      params: { type: 'object', required: ['kid'], properties: { kid: { type: 'string', minLength: 1, maxLength: 128 } } },
      response: {
        200: { type: 'object', required: ['revoked', 'keys'], properties: { revoked: { type: 'string' }, keys: { type: 'array', items: { type: 'string' } } } },
        404: { $ref: 'ErrorResponse#' },
        ...authErrorResponses,
      },
    },
  }, async (request) => {
    const { kid } = request.params;
    if (!keyring.describe().some((k) => k.kid === kid)) throw new HttpError(404, `no bundle signing key with kid "${kid}"`);
    await keyring.revoke(kid);
    request.log.warn({ kid }, 'bundle signing key revoked');
    return { revoked: kid, keys: keyring.describe().map((k) => k.kid) };
  });

  app.post('/api/v1/bundle-keys/rotate', {
    config: { auth: adminOnly },
    schema: {
      tags: ['bundles'],
      summary: 'Publish a new bundle signing key; it signs after the publish lead time, the old key is kept until its bundles expire',
      response: {
        200: {
          type: 'object',
          required: ['kid', 'keys'],
          properties: {
            kid: { type: 'string' },
            keys: {
              type: 'array',
              items: {
                type: 'object',
                required: ['kid', 'state', 'activatesAt'],
                properties: { kid: { type: 'string' }, state: { enum: ['next', 'active', 'retired'] }, activatesAt: { type: 'string' }, removeAfter: { type: 'string' } },
              },
            },
          },
        },
        ...authErrorResponses,
      },
    },
  }, async (request) => {
    const kid = await keyring.rotate();
    request.log.info({ kid, activatesInMs: keyring.publishLeadMs }, 'bundle signing key rotation started');
    return {
      kid,
      keys: keyring.describe().map((k) => ({
        kid: k.kid,
        state: k.state,
        activatesAt: new Date(k.activatesAt).toISOString(),
        ...(k.removeAfter !== undefined ? { removeAfter: new Date(k.removeAfter).toISOString() } : {}),
      })),
    };
  });
};
