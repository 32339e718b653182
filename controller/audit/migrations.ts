/** Tables of the audit trail: events, per-chain heads, continuity alerts. */
import type { Kysely, Migration } from 'kysely';

type AnyDb = Kysely<Record<string, never>>;

export const auditMigrations: Record<string, Migration> = {
  '20261125-10-audit-events': {
    async up(db: AnyDb) {
      await db.schema
        .createTable('audit_events')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('chain_id', 'text', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('ts', 'bigint', (c) => c.notNull())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('actor_type', 'text', (c) => c.notNull())
        .addColumn('actor_id', 'text', (c) => c.notNull())
        .addColumn('actor_role', 'text')
        .addColumn('action', 'text', (c) => c.notNull())
        .addColumn('result', 'text', (c) => c.notNull())
        .addColumn('hash', 'text', (c) => c.notNull())
        .addColumn('event', 'text', (c) => c.notNull())
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('audit_events_chain_seq', ['chain_id', 'seq'])
        .execute();
      await db.schema.createIndex('audit_events_ts').on('audit_events').columns(['ts', 'chain_id', 'seq']).execute();
      await db.schema.createIndex('audit_events_tenant_ts').on('audit_events').columns(['tenant_id', 'ts']).execute();
      await db.schema.createIndex('audit_events_actor_ts').on('audit_events').columns(['actor_id', 'ts']).execute();
      await db.schema.createIndex('audit_events_action_ts').on('audit_events').columns(['action', 'ts']).execute();
      await db.schema
        .createTable('audit_chains')
        .addColumn('chain_id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('head_seq', 'bigint', (c) => c.notNull())
        .addColumn('head_hash', 'text', (c) => c.notNull())
        .addColumn('owner', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('audit_alerts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('chain_id', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addColumn('event_id', 'text', (c) => c.notNull())
        .addColumn('detail', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_alerts_chain').on('audit_alerts').columns(['chain_id', 'created_at']).execute();
    },
  },
};
