/**
 * What a signed bundle carries for one role: the role's full profile (models and tiers,
 * budgets, guard mode per data class, extension allowlist, downshift rules, skills, ABAC
 * rules), validated on arrival with the same schema the controller validates profiles with.
 */
import { validateProfile } from '../profile-schema.js';
import type { RoleProfile } from '../profile.js';

export const BUNDLE_FORMAT = 1;

export interface PolicyBundleBody {
  format: typeof BUNDLE_FORMAT;
  role: string;
  profile: RoleProfile;
}

export function bundleBodyFor(profile: RoleProfile): PolicyBundleBody {
  return { format: BUNDLE_FORMAT, role: profile.role, profile };
}

/** Problems with a received bundle body (empty when valid). */
export function validateBundleBody(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return ['bundle: must be an object'];
  const b = body as Partial<PolicyBundleBody> & Record<string, unknown>;
  const extra = Object.keys(b).filter((k) => k !== 'format' && k !== 'role' && k !== 'profile');
  if (extra.length > 0) return [`bundle: unknown keys ${extra.join(', ')}`];
  if (b.format !== BUNDLE_FORMAT) return [`bundle.format: must be ${BUNDLE_FORMAT} (got ${JSON.stringify(b.format)})`];
  if (typeof b.role !== 'string') return ['bundle.role: must be a string'];
  const problems = validateProfile(b.profile).map((p) => `bundle.profile.${p}`);
  if (problems.length === 0 && b.profile!.role !== b.role) problems.push(`bundle.profile.role: "${b.profile!.role}" differs from bundle role "${b.role}"`);
  return problems;
}
