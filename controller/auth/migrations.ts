/**
 * Enrolment hardening: every code and refresh token records its tenant; refresh tokens record
 * where their roles come from, the end of their chain's lifetime, and their sealed successor
 * (the pair a lost reply can be fetched again with, during the grace window).
 */
import type { Kysely, Migration } from 'kysely';
import type { EpochMs } from '../storage/schema.js';

type AnyDb = Kysely<Record<string, never>>;

export const authMigrations: Record<string, Migration> = {
  '20261201-01-auth-tenant-and-rotation': {
    async up(db: AnyDb) {
      await db.schema.alterTable('enrolment_codes').addColumn('tenant', 'text').execute();
      await db.schema.alterTable('refresh_tokens').addColumn('tenant', 'text').execute();
      // 1 when the subject was a directory person at enrolment: roles are re-read at every refresh.
      await db.schema.alterTable('refresh_tokens').addColumn('from_directory', 'integer').execute();
      await db.schema.alterTable('refresh_tokens').addColumn('chain_expires_at', 'bigint').execute();
      await db.schema.alterTable('refresh_tokens').addColumn('successor_hash', 'text').execute();
      await db.schema.alterTable('refresh_tokens').addColumn('successor_sealed', 'text').execute();
    },
  },
};

declare module '../storage/schema.js' {
  interface EnrolmentCodeRow {
    /** Tenant the tokens will carry; null on codes made before tenants were recorded (the controller's tenant). */
    tenant: string | null;
  }
  interface RefreshTokenRow {
    tenant: string | null;
    /** 1: the subject is a directory person, whose roles are re-read at every refresh. */
    from_directory: number | null;
    /** No refresh of this chain is possible after this time (null on rows made before the cap). */
    chain_expires_at: EpochMs | null;
    /** SHA-256 of the refresh token that replaced this one. */
    successor_hash: string | null;
    /** The pair returned when this token was spent, sealed with a key only this token derives. */
    successor_sealed: string | null;
  }
}
