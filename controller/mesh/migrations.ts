/**
 * Tables of the agent mesh: registered agents, tasks, the delivery queue (leases), sessions with
 * their context shards, approvals, and stored answers for Idempotency-Key replays. One set for
 * SQLite and PostgreSQL (portable types only, see controller/README.md).
 */
import type { Kysely, Migration } from 'kysely';

type AnyDb = Kysely<Record<string, never>>;

export const meshMigrations: Record<string, Migration> = {
  '20261201-01-mesh-tables': {
    async up(db: AnyDb) {
      await db.schema
        .createTable('mesh_agents')
        .addColumn('agent_id', 'text', (c) => c.primaryKey())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('person', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('skills', 'text', (c) => c.notNull())
        .addColumn('load', 'integer', (c) => c.notNull())
        .addColumn('capacity', 'integer', (c) => c.notNull())
        .addColumn('locale', 'text')
        .addColumn('last_seen', 'bigint', (c) => c.notNull())
        .addColumn('registered_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('mesh_agents_role').on('mesh_agents').columns(['role']).execute();
      await db.schema.createIndex('mesh_agents_person').on('mesh_agents').columns(['person']).execute();

      await db.schema
        .createTable('mesh_tasks')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('context_id', 'text', (c) => c.notNull())
        .addColumn('message_id', 'text')
        .addColumn('from_subject', 'text', (c) => c.notNull())
        .addColumn('from_agent', 'text')
        .addColumn('from_role', 'text', (c) => c.notNull())
        .addColumn('title', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('mesh_tasks_message').on('mesh_tasks').columns(['from_subject', 'message_id']).unique().execute();
      await db.schema.createIndex('mesh_tasks_context').on('mesh_tasks').columns(['context_id']).execute();

      await db.schema
        .createTable('mesh_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('agent_id', 'text', (c) => c.notNull())
        .addColumn('task_id', 'text')
        .addColumn('approval_id', 'text')
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('lease_id', 'text')
        .addColumn('lease_until', 'bigint')
        .addColumn('available_at', 'bigint', (c) => c.notNull())
        .addColumn('result_state', 'text')
        .addColumn('result', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('mesh_deliveries_claim').on('mesh_deliveries').columns(['agent_id', 'state', 'available_at']).execute();
      await db.schema.createIndex('mesh_deliveries_task').on('mesh_deliveries').columns(['task_id']).execute();
      await db.schema.createIndex('mesh_deliveries_lease').on('mesh_deliveries').columns(['state', 'lease_until']).execute();

      await db.schema
        .createTable('mesh_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('created_by', 'text', (c) => c.notNull())
        .addColumn('participants', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('mesh_shards')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('from_subject', 'text', (c) => c.notNull())
        .addColumn('from_role', 'text', (c) => c.notNull())
        .addColumn('audience_role', 'text', (c) => c.notNull())
        .addColumn('text', 'text', (c) => c.notNull())
        .addColumn('redactions', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('mesh_shards_session').on('mesh_shards').columns(['session_id', 'created_at']).execute();

      await db.schema
        .createTable('mesh_approvals')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('session_id', 'text', (c) => c.notNull())
        .addColumn('step_id', 'text', (c) => c.notNull())
        .addColumn('requester', 'text', (c) => c.notNull())
        .addColumn('requester_role', 'text', (c) => c.notNull())
        .addColumn('chain', 'text', (c) => c.notNull())
        .addColumn('views', 'text', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('level', 'integer', (c) => c.notNull())
        .addColumn('approver', 'text', (c) => c.notNull())
        .addColumn('payload_hash', 'text', (c) => c.notNull())
        .addColumn('window_ms', 'bigint', (c) => c.notNull())
        .addColumn('deadline', 'bigint', (c) => c.notNull())
        .addColumn('decided_by', 'text')
        .addColumn('notes', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('mesh_approvals_due').on('mesh_approvals').columns(['state', 'deadline']).execute();
      await db.schema.createIndex('mesh_approvals_session').on('mesh_approvals').columns(['session_id']).execute();

      await db.schema
        .createTable('mesh_idempotency')
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('fingerprint', 'text', (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('body', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('mesh_idempotency_pk', ['subject', 'key'])
        .execute();
    },
  },
};
