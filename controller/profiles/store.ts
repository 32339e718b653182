/**
 * Role profiles in the controller's database, so they can be edited through the API and every
 * replica serves the same one. The profile files (policies/profiles, <data-dir>/profiles) seed
 * them: a role without a row gets one (version 1); a row whose file changed since it was seeded
 * takes the file's content (version + 1) but keeps downshift rules published through the API.
 * The set of roles is the set of profile files.
 */
import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Kysely } from 'kysely';
import type { ControllerTables, EpochMs } from '../storage/schema.js';
import type { DownshiftRuleSet } from '../../policies/downshift/types.js';
import type { RoleProfile } from '../../policies/profile.js';

export interface RoleProfileRow {
  role: string;
  version: number;
  profile: string;
  seed_hash: string;
  downshift_source: 'file' | 'api';
  updated_at: EpochMs;
  updated_by: string | null;
}

declare module '../storage/schema.js' {
  interface ControllerTables {
    role_profiles: RoleProfileRow;
  }
}

export interface StoredProfile {
  profile: RoleProfile;
  version: number;
  downshiftSource: 'file' | 'api';
  updatedAt: number;
  updatedBy: string | null;
}

/** expectedVersion named a version that is no longer current. */
export class ProfileVersionConflict extends Error {
  override name = 'ProfileVersionConflict';
  constructor(readonly role: string, readonly expected: number, readonly current: number) {
    super(`the ${role} profile is at version ${current}, not ${expected}; reload it and apply your change again`);
  }
}

const hashOf = (profile: RoleProfile): string => createHash('sha256').update(canonicalize(profile) ?? '').digest('hex').slice(0, 16);

function storedOf(row: RoleProfileRow): StoredProfile {
  return {
    profile: JSON.parse(row.profile) as RoleProfile,
    version: Number(row.version),
    downshiftSource: row.downshift_source,
    updatedAt: Number(row.updated_at),
    updatedBy: row.updated_by,
  };
}

export class ProfileStore {
  constructor(private readonly db: Kysely<ControllerTables>) {}

  /** Brings the rows in line with the profile files; returns the profiles in force, by role. */
  async seed(fromFiles: readonly RoleProfile[], now = Date.now()): Promise<Map<string, StoredProfile>> {
    const out = new Map<string, StoredProfile>();
    for (const file of fromFiles) {
      const hash = hashOf(file);
      const row = await this.row(file.role);
      if (!row) {
        // Several replicas may start at once: the first insert wins, the others read it.
        await this.db
          .insertInto('role_profiles')
          .values({ role: file.role, version: 1, profile: JSON.stringify(file), seed_hash: hash, downshift_source: 'file', updated_at: now, updated_by: null })
          .onConflict((oc) => oc.column('role').doNothing())
          .execute();
      } else if (row.seed_hash !== hash) {
        const kept = row.downshift_source === 'api' ? (JSON.parse(row.profile) as RoleProfile).downshift : file.downshift;
        const { downshift: _fromFile, ...rest } = file;
        const profile: RoleProfile = { ...rest, ...(kept !== undefined ? { downshift: kept } : {}) };
        await this.db
          .updateTable('role_profiles')
          .set({ profile: JSON.stringify(profile), seed_hash: hash, version: Number(row.version) + 1, updated_at: now, updated_by: null })
          .where('role', '=', file.role)
          .where('version', '=', row.version)
          .execute();
      }
      out.set(file.role, storedOf((await this.row(file.role))!));
    }
    return out;
  }

  async get(role: string): Promise<StoredProfile | undefined> {
    const row = await this.row(role);
    return row ? storedOf(row) : undefined;
  }

  /**
   * Replaces a role's downshift rules (compare-and-swap on the version). `expectedVersion`
   * absent = last writer wins. Throws ProfileVersionConflict on a stale version.
   */
  async setDownshift(role: string, rules: DownshiftRuleSet, opts: { expectedVersion?: number; by: string; now?: number }): Promise<StoredProfile | undefined> {
    const row = await this.row(role);
    if (!row) return undefined;
    const current = Number(row.version);
    if (opts.expectedVersion !== undefined && opts.expectedVersion !== current) throw new ProfileVersionConflict(role, opts.expectedVersion, current);
    const profile: RoleProfile = { ...(JSON.parse(row.profile) as RoleProfile), downshift: rules as NonNullable<RoleProfile['downshift']> };
    const res = await this.db
      .updateTable('role_profiles')
      .set({ profile: JSON.stringify(profile), version: current + 1, downshift_source: 'api', updated_at: opts.now ?? Date.now(), updated_by: opts.by })
      .where('role', '=', role)
      .where('version', '=', row.version)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) {
      const now = await this.row(role);
      throw new ProfileVersionConflict(role, opts.expectedVersion ?? current, now ? Number(now.version) : current);
    }
    return storedOf((await this.row(role))!);
  }

  private row(role: string): Promise<RoleProfileRow | undefined> {
    return this.db.selectFrom('role_profiles').selectAll().where('role', '=', role).executeTakeFirst();
  }
}
