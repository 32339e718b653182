/**
 * Role profiles as the controller serves them: seeded from the profile files at start-up, then
 * editable through the API (downshift rules today), each change bumping `version`.
 */
import type { Kysely, Migration } from 'kysely';

type AnyDb = Kysely<Record<string, never>>;

export const profileMigrations: Record<string, Migration> = {
  '20261201-13-role-profiles': {
    async up(db: AnyDb) {
      await db.schema
        .createTable('role_profiles')
        .addColumn('role', 'text', (c) => c.primaryKey())
        .addColumn('version', 'integer', (c) => c.notNull())
        // The whole profile as JSON (policies/schema/profile.schema.json).
        .addColumn('profile', 'text', (c) => c.notNull())
        // Content hash of the profile file it was last seeded from: a changed file is re-applied.
        .addColumn('seed_hash', 'text', (c) => c.notNull())
        // 'file' or 'api': where the downshift rules in force came from.
        .addColumn('downshift_source', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_by', 'text')
        .execute();
    },
  },
};
