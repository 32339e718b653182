/** Sign-in sessions: one row per `switchboard login`, holding the hash of its current session token. */
import type { Kysely, Migration } from 'kysely';
import type { EpochMs } from '../../storage/schema.js';

type AnyDb = Kysely<Record<string, never>>;

export interface SigninSessionRow {
  id: string;
  /** sha256 of the current session token (rotated on every renewal). */
  token_hash: string;
  /** sha256 of the token it replaced: presenting that again means a copy was stolen. */
  prev_token_hash: string | null;
  person_id: string;
  issuer: string;
  roles: string;
  created_at: EpochMs;
  /** Absolute end of the sign-in; renewals never extend it. */
  expires_at: EpochMs;
  renewed_at: EpochMs | null;
  revoked_at: EpochMs | null;
  revoked_reason: string | null;
}

declare module '../../storage/schema.js' {
  interface ControllerTables {
    signin_sessions: SigninSessionRow;
  }
}

export const oidcMigrations: Record<string, Migration> = {
  '20261201-12-signin-sessions': {
    async up(db: AnyDb) {
      await db.schema
        .createTable('signin_sessions')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('prev_token_hash', 'text')
        .addColumn('person_id', 'text', (c) => c.notNull())
        .addColumn('issuer', 'text', (c) => c.notNull())
        .addColumn('roles', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('renewed_at', 'bigint')
        .addColumn('revoked_at', 'bigint')
        .addColumn('revoked_reason', 'text')
        .execute();
      await db.schema.createIndex('signin_sessions_prev').on('signin_sessions').column('prev_token_hash').execute();
    },
  },
};
