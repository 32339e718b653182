/** Public key discovery: the JWKS verifiers of access tokens use (bundle keys are at /api/v1/bundle-keys). */
import type { AreaPlugin } from '../plugins.js';

export const wellKnownRoutes: AreaPlugin = async (app, { services }) => {
  app.get('/.well-known/jwks.json', {
    config: { auth: 'public' },
    schema: {
      tags: ['auth'],
      summary: 'Public signing keys (JWKS) for access tokens',
      security: [],
      response: {
        200: {
          type: 'object',
          required: ['keys'],
          properties: {
            keys: {
              type: 'array',
              items: {
                type: 'object',
                required: ['kty', 'kid', 'alg', 'use'],
                properties: { kty: { type: 'string' }, crv: { type: 'string' }, x: { type: 'string' }, kid: { type: 'string' }, alg: { type: 'string' }, use: { type: 'string' } },
              },
            },
          },
        },
      },
    },
  }, async (_request, reply) => {
    // Verifiers cache this; keep it short so a rotation is picked up within minutes.
    reply.header('cache-control', 'public, max-age=300');
    return services.keys.jwks();
  });
};
