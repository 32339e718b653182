/** Role profiles as stored by the controller (seeded from the profile files, see store.ts). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AreaPlugin } from '../plugins.js';
import { authErrorResponses, HttpError } from '../http-errors.js';
import { POLICY_SCHEMA_DIR } from '../../policies/profile-schema.js';

export const profileRoutes: AreaPlugin = async (app, { services }) => {
  // The published schema is the one profiles were validated with; its section $refs resolve by $id.
  const profileSchema = JSON.parse(readFileSync(join(POLICY_SCHEMA_DIR, 'profile.schema.json'), 'utf8')) as { $id: string };

  app.get('/api/v1/profiles', {
    schema: {
      tags: ['profiles'],
      summary: 'Roles that have a profile',
      response: {
        200: { type: 'object', required: ['roles', 'version'], properties: { roles: { type: 'array', items: { type: 'string' } }, version: { type: 'string' } } },
        ...authErrorResponses,
      },
    },
  }, async () => ({ roles: services.profiles.roles(), version: services.profiles.version }));

  app.get<{ Params: { role: string } }>('/api/v1/profiles/:role', {
    schema: {
      tags: ['profiles'],
      summary: "A role's profile: models and tiers, budgets, guard modes, extensions, downshift rules, skills, rules",
      description: `Shape: ${profileSchema.$id} (policies/schema/profile.schema.json).`,
      params: { type: 'object', required: ['role'], properties: { role: { type: 'string', pattern: '^[a-z][a-z0-9_.:-]{0,63}$' } } },
      response: { 200: { type: 'object', additionalProperties: true, required: ['version', 'role'] }, 404: { $ref: 'ErrorResponse#' }, ...authErrorResponses },
    },
  }, async (request) => {
    // The stored profile: rules published through the API (maybe by another replica) included.
    const profile = services.profiles.get(request.params.role) && (await services.profileStore.get(request.params.role))?.profile;
    if (!profile) throw new HttpError(404, `no profile for role "${request.params.role}" (known: ${services.profiles.roles().join(', ')})`);
    return profile;
  });
};
