/**
 * From verified ID token claims to a directory person, their roles and department. The
 * directory is the authority on who belongs: a person it does not list cannot sign in, whatever
 * the IdP says.
 */
import type { JWTPayload } from 'jose';
import type { DirectoryRepository } from '../../directory/repository.js';
import type { OidcIssuerConfig } from './config.js';
import { OidcRejected } from './id-token.js';

export interface SignedInPerson {
  personId: string;
  roles: string[];
  department: string | null;
}

/** Refusal because of who the person is (not the token): the route answers 403. */
export class OidcForbidden extends OidcRejected {
  override name = 'OidcForbidden';
}

export async function resolvePerson(issuer: OidcIssuerConfig, claims: JWTPayload, directory: DirectoryRepository): Promise<SignedInPerson> {
  const value = claims[issuer.person.claim];
  if (typeof value !== 'string' || value === '') throw new OidcRejected(`ID token has no "${issuer.person.claim}" claim`);
  if (issuer.person.match === 'email' && issuer.person.claim === 'email' && claims.email_verified === false) {
    throw new OidcForbidden('your e-mail address is not verified at the identity provider');
  }
  const node = issuer.person.match === 'email' ? await directory.findPersonByEmail(value) : await directory.getFresh(value);
  if (!node || node.kind !== 'person') throw new OidcForbidden('you are not in the organisation directory; ask an administrator to add you');
  const facts = await directory.personFacts(node.id, { fresh: true });
  let roles: string[];
  if (issuer.roles.from === 'directory') {
    roles = [...node.roles];
  } else {
    const groups = claims[issuer.roles.claim];
    const list = Array.isArray(groups) ? groups.filter((g): g is string => typeof g === 'string') : [];
    const groupRoles = issuer.roles.groupRoles;
    roles = [...new Set(list.flatMap((g) => (Object.hasOwn(groupRoles, g) ? [groupRoles[g]!] : [])))];
  }
  if (roles.length === 0) throw new OidcForbidden('none of your roles or groups gives access to Switchboard');
  return { personId: node.id, roles, department: facts?.department ?? null };
}
