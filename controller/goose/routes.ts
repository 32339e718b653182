/**
 * What Goose reads from the org server: GET /api/v1/goose/allowlist/{role} is the role's extension
 * allowlist in the YAML shape Goose desktop fetches from GOOSE_ALLOWLIST (goose-integration.md
 * §4.3). Public, because Goose sends no credentials; it only names the role's extensions. Goose
 * checks it only on deep-link installs — the gateway enforces the same list on every model call.
 */
import { stringify } from 'yaml';
import type { AreaPlugin } from '../plugins.js';
import { HttpError } from '../http-errors.js';
import { gooseAllowlistEntries } from '../../policies/extensions.js';

export const gooseRoutes: AreaPlugin = async (app, { services }) => {
  app.get<{ Params: { role: string } }>('/api/v1/goose/allowlist/:role', {
    config: { auth: 'public' },
    schema: {
      tags: ['goose'],
      summary: "A role's Goose extension allowlist (YAML, the format of GOOSE_ALLOWLIST)",
      security: [],
      params: { type: 'object', required: ['role'], properties: { role: { type: 'string', pattern: '^[a-z][a-z0-9_.:-]{0,63}$' } } },
      produces: ['application/yaml'],
      response: { 200: { type: 'string' }, 404: { $ref: 'ErrorResponse#' } },
    },
  }, async (request, reply) => {
    const profile = services.profiles.get(request.params.role);
    if (!profile) throw new HttpError(404, `no profile for role "${request.params.role}" (known: ${services.profiles.roles().join(', ')})`);
    const body = stringify({ extensions: gooseAllowlistEntries(profile.extensions.allow) });
    return reply.type('application/yaml; charset=utf-8').header('cache-control', 'max-age=300').send(body);
  });
};
