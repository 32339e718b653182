/** The signed bundle last served per role, so ETags stay stable across restarts and replicas. */
import type { Kysely, Migration } from 'kysely';

type AnyDb = Kysely<Record<string, never>>;

export const bundleMigrations: Record<string, Migration> = {
  '20261125-11-bundles-signed': {
    async up(db: AnyDb) {
      await db.schema
        .createTable('policy_bundles')
        .addColumn('role', 'text', (c) => c.primaryKey())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn('kid', 'text', (c) => c.notNull())
        .addColumn('jws', 'text', (c) => c.notNull())
        .addColumn('etag', 'text', (c) => c.notNull())
        .addColumn('issued_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  },
};
