/**
 * The controller's one migration set, for SQLite and PostgreSQL alike (Kysely's schema builder
 * emits the right DDL for each). Modules register their own named migrations in
 * controller/storage/migration-sets.ts; names are `<yyyymmdd>-<nn>-<module>-<what>` so they sort.
 * Append new migrations; never edit one that has shipped.
 */
import { sql, type Kysely, type Migration } from 'kysely';

// Migrations see the database as it was then, not today's typed schema, hence `unknown` tables.
type AnyDb = Kysely<Record<string, never>>;

export const coreMigrations: Record<string, Migration> = {
  '20261125-01-core-directory': {
    async up(db: AnyDb) {
      await db.schema
        .createTable('directory_nodes')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('parent_id', 'text')
        .addColumn('email', 'text')
        .addColumn('attributes', 'text', (c) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('directory_nodes_parent').on('directory_nodes').column('parent_id').execute();
      await db.schema
        .createTable('directory_edges')
        .addColumn('from_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('to_id', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('directory_edges_pk', ['from_id', 'kind', 'to_id'])
        .execute();
      await db.schema.createIndex('directory_edges_to').on('directory_edges').columns(['to_id', 'kind']).execute();
    },
  },
  '20261125-02-core-auth': {
    async up(db: AnyDb) {
      await db.schema
        .createTable('enrolment_codes')
        .addColumn('code_hash', 'text', (c) => c.primaryKey())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .execute();
      await db.schema
        .createTable('refresh_tokens')
        .addColumn('token_hash', 'text', (c) => c.primaryKey())
        .addColumn('family_id', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .addColumn('revoked_at', 'bigint')
        .execute();
      await db.schema.createIndex('refresh_tokens_family').on('refresh_tokens').column('family_id').execute();
    },
  },
  '20261202-01-core-directory-version': {
    // One row whose version every directory write moves, so a process's node cache checks one row
    // instead of re-reading the nodes it uses (decision 0079).
    async up(db: AnyDb) {
      await db.schema
        .createTable('directory_version')
        .addColumn('id', 'integer', (c) => c.primaryKey())
        .addColumn('version', 'bigint', (c) => c.notNull())
        .execute();
      await sql`INSERT INTO directory_version (id, version) VALUES (1, 0)`.execute(db);
    },
  },
};

/** Used by tests to prove the schema is identical on both backends. */
/** Table names of the app; on PostgreSQL pass the schema, since introspection sees every schema. */
export async function listTables(db: AnyDb, schema?: string): Promise<string[]> {
  const tables = await db.introspection.getTables();
  return tables
    .filter((t) => schema === undefined || t.schema === schema)
    .map((t) => t.name)
    .filter((n) => !n.startsWith('kysely_'))
    .sort();
}
