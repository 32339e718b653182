/** Tables of the org ledger: spend entries, budgets, per-tenant settings and budget leases. */
import type { Kysely, Migration } from 'kysely';

type AnyDb = Kysely<Record<string, never>>;

export const ledgerMigrations: Record<string, Migration> = {
  '20261201-20-ledger-org': {
    async up(db: AnyDb) {
      await db.schema
        .createTable('ledger_entries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('ts', 'bigint', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('department', 'text')
        .addColumn('gateway_id', 'text')
        .addColumn('lease_id', 'text')
        .addColumn('model_used', 'text', (c) => c.notNull())
        .addColumn('cost_usd', 'double precision', (c) => c.notNull())
        .addColumn('baseline_cost_usd', 'double precision')
        .addColumn('prompt_tokens', 'bigint', (c) => c.notNull())
        .addColumn('completion_tokens', 'bigint', (c) => c.notNull())
        .addColumn('cache_hit', 'integer', (c) => c.notNull())
        .addColumn('downshifted', 'integer', (c) => c.notNull())
        .addColumn('cache_savings_usd', 'double precision', (c) => c.notNull())
        .addColumn('downshift_savings_usd', 'double precision', (c) => c.notNull())
        .addColumn('record', 'text', (c) => c.notNull())
        .addColumn('received_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('ledger_entries_tenant_ts').on('ledger_entries').columns(['tenant_id', 'ts', 'id']).execute();
      await db.schema.createIndex('ledger_entries_lease').on('ledger_entries').column('lease_id').execute();
      await db.schema
        .createTable('ledger_budgets')
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('scope', 'text', (c) => c.notNull())
        .addColumn('scope_id', 'text', (c) => c.notNull())
        .addColumn('window', 'text', (c) => c.notNull())
        .addColumn('limit_usd', 'double precision', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('ledger_budgets_pk', ['tenant_id', 'scope', 'scope_id', 'window'])
        .execute();
      // One row per tenant: its time zone, and the row every ledger write locks (grants stay serial).
      await db.schema
        .createTable('ledger_tenants')
        .addColumn('tenant_id', 'text', (c) => c.primaryKey())
        .addColumn('time_zone', 'text', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('ledger_leases')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('tenant_id', 'text', (c) => c.notNull())
        .addColumn('gateway_id', 'text', (c) => c.notNull())
        .addColumn('holder', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('department', 'text')
        .addColumn('scopes', 'text', (c) => c.notNull())
        .addColumn('amount_usd', 'double precision', (c) => c.notNull())
        .addColumn('reported_usd', 'double precision', (c) => c.notNull().defaultTo(0))
        .addColumn('final_spent_usd', 'double precision')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('released_at', 'bigint')
        .addColumn('closed', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.createIndex('ledger_leases_open').on('ledger_leases').columns(['tenant_id', 'closed']).execute();
    },
  },
};
