/**
 * Turns each role profile into Cedar policies (RBAC: what the role may call and use), plus the
 * profile's own ABAC `rules`. Generated text only quotes values the profile schema has already
 * restricted to safe characters.
 */
import type { RoleProfile } from '../../policies/profile.js';
import type { NamedPolicy } from './base-policies.js';

const quote = (s: string) => JSON.stringify(s);
const set = (items: readonly string[]) => `[${items.map(quote).join(', ')}]`;

export function policiesForProfile(p: RoleProfile): NamedPolicy[] {
  const role = `Role::${quote(p.role)}`;
  const out: NamedPolicy[] = [];

  const nameMatches = p.models.allowed.map((g) => `resource.name like ${quote(g)}`).join(' || ');
  const tierOk = p.models.tiers ? ` && (!(resource has tier) || ${set(p.models.tiers)}.contains(resource.tier))` : '';
  out.push({
    id: `${p.role}.models`,
    reason: `role ${p.role} may call the models and tiers its profile allows`,
    cedar: `permit (principal in ${role}, action == Action::"model.call", resource is Model) when { (${nameMatches})${tierOk} };`,
  });

  if (p.extensions.allow.length > 0) {
    out.push({
      id: `${p.role}.extensions`,
      reason: `extension is on role ${p.role}'s allowlist`,
      cedar: `permit (principal in ${role}, action == Action::"extension.use", resource is Extension) when { ${set(p.extensions.allow)}.contains(resource.name) };`,
    });
  }

  const skills = (p.skills ?? []).map((s) => s.id);
  if (skills.length > 0) {
    out.push({
      id: `${p.role}.skills`,
      reason: `skill is listed in role ${p.role}'s profile`,
      cedar: `permit (principal in ${role}, action == Action::"skill.use", resource is Skill) when { ${set(skills)}.contains(resource.name) };`,
    });
  }

  // Data sent to a model: refused for classes the guard blocks for this role.
  const classes = Object.entries(p.guard.classes ?? {});
  const blocked = classes.filter(([, m]) => m === 'block').map(([c]) => c);
  const passable = classes.filter(([, m]) => m !== 'block').map(([c]) => c);
  const dataCondition =
    p.guard.defaultMode === 'block'
      ? `when { !(context has dataClass) || ${set(passable)}.contains(context.dataClass) }`
      : blocked.length > 0
        ? `unless { context has dataClass && ${set(blocked)}.contains(context.dataClass) }`
        : '';
  out.push({
    id: `${p.role}.data-send`,
    reason: `role ${p.role}'s guard policy lets this data class reach a model`,
    cedar: `permit (principal in ${role}, action == Action::"data.send", resource) ${dataCondition};`,
  });

  for (const rule of p.rules ?? []) out.push({ id: rule.id, reason: rule.reason, cedar: rule.cedar });
  return out;
}
