/**
 * Role profiles, loaded from YAML folders at start-up and validated against
 * policies/schema/profile.schema.json (plus the section schemas next to it). Later folders
 * override earlier ones per role, so `<data-dir>/profiles/finance.yaml` replaces the shipped one.
 * A broken profile stops the controller with a message naming the file and the key.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import { validateProfile } from '../../policies/profile-schema.js';
import type { RoleProfile } from '../../policies/profile.js';

export class ProfileError extends Error {
  override name = 'ProfileError';
}

/**
 * A folder shipped with the package, next to the code that reads it: the source tree under tsx,
 * dist/ once built (scripts/build.mjs copies every runtime asset listed in scripts/runtime-assets.mjs).
 */
function shippedDir(...parts: string[]): string {
  return fileURLToPath(new URL(`../../${parts.join('/')}`, import.meta.url));
}

export const SHIPPED_PROFILES_DIR = shippedDir('policies', 'profiles');

export class ProfileCatalog {
  private constructor(
    private readonly byRole: Map<string, { profile: RoleProfile; source: string }>,
    /** Content hash of every profile; changes whenever any profile changes. */
    private hash: string,
  ) {}

  get version(): string {
    return this.hash;
  }

  /**
   * Puts a role's profile as stored in the controller's database (controller/profiles/store.ts)
   * in place of the one read from its file: profiles are edited through the API.
   */
  replace(profile: RoleProfile, source = '(controller database)'): void {
    this.byRole.set(profile.role, { profile, source });
    this.hash = contentHash(this.byRole);
  }

  static defaultDirs(dataDir: string): string[] {
    return [SHIPPED_PROFILES_DIR, join(dataDir, 'profiles')];
  }

  static load(dirs: readonly string[]): ProfileCatalog {
    const byRole = new Map<string, { profile: RoleProfile; source: string }>();
    for (const dir of dirs) {
      if (!existsSync(dir)) continue;
      for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort()) {
        const path = join(dir, file);
        const profile = parseProfileFile(path);
        byRole.set(profile.role, { profile, source: path });
      }
    }
    return new ProfileCatalog(byRole, contentHash(byRole));
  }

  static fromProfiles(profiles: readonly RoleProfile[]): ProfileCatalog {
    for (const p of profiles) {
      const problems = validateProfile(p);
      if (problems.length) throw new ProfileError(`profile ${p.role}: ${problems.join('; ')}`);
    }
    const hash = createHash('sha256').update(JSON.stringify(profiles)).digest('hex').slice(0, 16);
    return new ProfileCatalog(new Map(profiles.map((p) => [p.role, { profile: p, source: '(memory)' }])), hash);
  }

  get(role: string): RoleProfile | undefined {
    return this.byRole.get(role)?.profile;
  }

  roles(): string[] {
    return [...this.byRole.keys()].sort();
  }

  all(): RoleProfile[] {
    return this.roles().map((r) => this.byRole.get(r)!.profile);
  }
}

function contentHash(byRole: ReadonlyMap<string, { profile: RoleProfile }>): string {
  const hash = createHash('sha256');
  for (const role of [...byRole.keys()].sort()) hash.update(JSON.stringify(byRole.get(role)!.profile));
  return hash.digest('hex').slice(0, 16);
}

export function parseProfileFile(path: string): RoleProfile {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ProfileError(`${path}: not valid YAML: ${(err as Error).message}`);
  }
  const problems = validateProfile(raw);
  if (problems.length) throw new ProfileError(`${path}: invalid role profile\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  const profile = raw as RoleProfile;
  const expected = basename(path).replace(/\.ya?ml$/, '');
  if (profile.role !== expected) throw new ProfileError(`${path}: role "${profile.role}" must match the file name ("${expected}")`);
  return profile;
}
