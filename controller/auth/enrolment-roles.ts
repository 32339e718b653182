/**
 * Which roles an enrolment code grants. A role without a profile would give the gateway no
 * bundle to fetch (every request refused), so such roles are refused when named, and left out
 * when they come from the directory. Shared by POST /api/v1/enrol-codes and `controller enrol-code`.
 */
import type { ControllerServices } from '../services.js';

export class RoleChoiceError extends Error {
  override name = 'RoleChoiceError';
}

export async function enrolmentRoles(services: Pick<ControllerServices, 'directory' | 'profiles'>, subject: string, requested: readonly string[] | undefined): Promise<string[]> {
  const known = services.profiles.roles();
  if (requested && requested.length > 0) {
    const missing = requested.filter((r) => !services.profiles.get(r));
    if (missing.length > 0) {
      throw new RoleChoiceError(`role ${missing.map((r) => `"${r}"`).join(', ')} has no profile, so a gateway enrolled with it would get no policy; roles with a profile: ${known.join(', ')}`);
    }
    const person = await services.directory.getFresh(subject);
    const notHeld = person?.kind === 'person' ? requested.filter((r) => !person.roles.includes(r)) : [];
    if (notHeld.length > 0) {
      // Refreshes keep only the roles the directory gives a person; these would vanish at the first one.
      throw new RoleChoiceError(`"${subject}" does not hold ${notHeld.map((r) => `"${r}"`).join(', ')} in the directory (roles: ${person!.roles.join(', ') || 'none'})`);
    }
    return [...requested];
  }
  const node = await services.directory.getFresh(subject);
  if (node?.kind !== 'person' || node.roles.length === 0) {
    throw new RoleChoiceError(`roles: required, because "${subject}" is not a person with roles in the directory`);
  }
  const withProfile = node.roles.filter((r) => services.profiles.get(r));
  if (withProfile.length === 0) {
    throw new RoleChoiceError(`none of "${subject}"'s roles in the directory (${node.roles.join(', ')}) has a profile; roles with a profile: ${known.join(', ')}`);
  }
  return withProfile;
}
