/**
 * The A2A edge's task records, so tasks/get and tasks/cancel work after a controller restart
 * and on any controller process of a shared database. Portable types (SQLite and PostgreSQL).
 */
import type { Kysely, Migration } from 'kysely';

type AnyDb = Kysely<Record<string, never>>;

export const a2aMigrations: Record<string, Migration> = {
  '20261201-20-a2a-tasks': {
    async up(db: AnyDb) {
      await db.schema
        .createTable('a2a_tasks')
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('context_id', 'text', (c) => c.notNull())
        .addColumn('mesh_task_id', 'text')
        .addColumn('state', 'integer', (c) => c.notNull())
        .addColumn('status_ts', 'text', (c) => c.notNull())
        .addColumn('task', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('a2a_tasks_pk', ['owner', 'id'])
        .execute();
      await db.schema.createIndex('a2a_tasks_owner_context').on('a2a_tasks').columns(['owner', 'context_id']).execute();
    },
  },
};
