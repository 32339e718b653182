/**
 * A role's downshift rules as an editable part of its profile:
 *   GET /api/v1/profiles/:role/downshift-rules → { role, version, rules, bundleVersion, source, … }
 *   PUT /api/v1/profiles/:role/downshift-rules { rules, expectedVersion? }
 * A PUT validates the rules (policies/schema/downshift.schema.json plus the reference checks of
 * policies/downshift/load.ts, and that every model a rule can switch to is allowed for the role),
 * stores them as a new profile version and signs the role's new bundle at once; gateways pick it
 * up on their next ETag poll. Cost owners and admins only (docs/controller.md).
 */
import type { AreaPlugin } from '../plugins.js';
import { costOwnerOrAdmin } from '../route-auth.js';
import { HttpError, authErrorResponses } from '../http-errors.js';
import { bundleBodyFor } from '../../policies/bundle/body.js';
import { bundleVersion } from '../../policies/bundle/format.js';
import { globToRegExp } from '../../policies/downshift/rules.js';
import { DownshiftRulesError, parseDownshiftRules } from '../../policies/downshift/load.js';
import { MODEL_TIERS, type DownshiftRuleSet } from '../../policies/downshift/types.js';
import { ProfileVersionConflict } from './store.js';
import type { RoleProfile } from '../../policies/profile.js';

const EMPTY_RULES: DownshiftRuleSet = { version: 1, rules: [] };

/**
 * Problems with `rules` as the downshift rules of `profile`, each naming the path from the
 * request body (`rules.rules[0].action.tier: …`). Empty when they may be published.
 */
export function downshiftRuleProblems(profile: RoleProfile, rules: unknown): string[] {
  let set: DownshiftRuleSet;
  try {
    set = parseDownshiftRules(rules, 'rules');
  } catch (err) {
    if (err instanceof DownshiftRulesError) return err.problems.map((p) => (p.startsWith('(top level)') ? `rules${p.slice('(top level)'.length)}` : `rules.${p}`));
    throw err;
  }
  // A rule must not move a request to a model the role may not call: the gateway applies
  // downshift after the model check, so the bundle itself must not carry such a target.
  const allowed = profile.models.allowed.map(globToRegExp);
  const isAllowed = (model: string) => allowed.some((re) => re.test(model));
  const problems: string[] = [];
  for (const tier of MODEL_TIERS) {
    const model = set.tiers?.[tier];
    if (model !== undefined && !isAllowed(model)) problems.push(`rules.tiers.${tier}: model "${model}" is not allowed for role ${profile.role} (models.allowed: ${profile.models.allowed.join(', ')})`);
  }
  set.rules.forEach((rule, i) => {
    const model = rule.action.model;
    if (model !== undefined && !isAllowed(model)) problems.push(`rules.rules[${i}].action.model: model "${model}" is not allowed for role ${profile.role} (models.allowed: ${profile.models.allowed.join(', ')})`);
  });
  return problems;
}

const roleParams = { type: 'object', required: ['role'], properties: { role: { type: 'string', pattern: '^[a-z][a-z0-9_.:-]{0,63}$' } } } as const;
const rulesSchema = {
  type: 'object',
  additionalProperties: true,
  description: 'A downshift rules document (policies/schema/downshift.schema.json); validated in full by the route.',
} as const;

interface PutBody {
  rules: Record<string, unknown>;
  expectedVersion?: number;
}

export const downshiftRuleRoutes: AreaPlugin = async (app, { services }) => {
  const storedOrThrow = async (role: string) => {
    const stored = services.profiles.get(role) ? await services.profileStore.get(role) : undefined;
    if (!stored) throw new HttpError(404, `no profile for role "${role}" (known: ${services.profiles.roles().join(', ')})`);
    return stored;
  };

  app.get<{ Params: { role: string } }>('/api/v1/profiles/:role/downshift-rules', {
    config: { auth: costOwnerOrAdmin },
    schema: {
      tags: ['profiles'],
      summary: "A role's downshift rules, the profile version they belong to and the version of the bundle that carries them",
      params: roleParams,
      response: {
        200: {
          type: 'object',
          required: ['role', 'version', 'rules', 'bundleVersion', 'source'],
          properties: {
            role: { type: 'string' },
            version: { type: 'integer', description: 'Profile version; send it back as expectedVersion' },
            rules: rulesSchema,
            bundleVersion: { type: 'string', description: 'The `ver` of the signed bundle carrying this profile' },
            source: { enum: ['file', 'api'], description: 'file: the rules of the profile file; api: published through this API' },
            updatedAt: { type: 'string' },
            updatedBy: { type: ['string', 'null'] },
          },
        },
        404: { $ref: 'ErrorResponse#' },
        ...authErrorResponses,
      },
    },
  }, async (request) => {
    const stored = await storedOrThrow(request.params.role);
    return {
      role: stored.profile.role,
      version: stored.version,
      rules: stored.profile.downshift ?? EMPTY_RULES,
      bundleVersion: bundleVersion(bundleBodyFor(stored.profile) as unknown as Record<string, unknown>),
      source: stored.downshiftSource,
      updatedAt: new Date(stored.updatedAt).toISOString(),
      updatedBy: stored.updatedBy,
    };
  });

  app.put<{ Params: { role: string }; Body: PutBody }>('/api/v1/profiles/:role/downshift-rules', {
    config: { auth: costOwnerOrAdmin },
    schema: {
      tags: ['profiles'],
      summary: "Replace a role's downshift rules and publish the role's new signed bundle",
      description: '400 names the failing path (e.g. `rules.rules[1].action.tier`); 409 with code `version_conflict` when expectedVersion is not the current profile version.',
      params: roleParams,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['rules'],
        properties: { rules: rulesSchema, expectedVersion: { type: 'integer', minimum: 1 } },
      },
      response: {
        200: {
          type: 'object',
          required: ['role', 'version', 'bundleVersion'],
          properties: { role: { type: 'string' }, version: { type: 'integer' }, bundleVersion: { type: 'string' } },
        },
        400: { $ref: 'ErrorResponse#' },
        404: { $ref: 'ErrorResponse#' },
        409: { $ref: 'ErrorResponse#' },
        ...authErrorResponses,
      },
    },
  }, async (request) => {
    const { role } = request.params;
    const current = await storedOrThrow(role);
    const problems = downshiftRuleProblems(current.profile, request.body.rules);
    if (problems.length > 0) throw new HttpError(400, `invalid downshift rules: ${problems.join('; ')}`);
    let stored;
    try {
      stored = await services.profileStore.setDownshift(role, request.body.rules as unknown as DownshiftRuleSet, {
        ...(request.body.expectedVersion !== undefined ? { expectedVersion: request.body.expectedVersion } : {}),
        by: request.caller!.subject,
      });
    } catch (err) {
      if (err instanceof ProfileVersionConflict) throw new HttpError(409, err.message, {}, 'version_conflict');
      throw err;
    }
    if (!stored) throw new HttpError(404, `no profile for role "${role}"`);
    services.profiles.replace(stored.profile);
    // Sign now, so the next gateway poll gets the new bundle (and a signing problem shows here).
    const signed = await (await services.bundleStore()).signedFor(role, bundleBodyFor(stored.profile) as unknown as Record<string, unknown>);
    request.log.info({ role, version: stored.version, bundleVersion: signed.version, by: request.caller!.subject }, 'downshift rules published');
    return { role, version: stored.version, bundleVersion: signed.version };
  });
};
