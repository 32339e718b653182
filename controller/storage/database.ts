/**
 * Opens the controller's database: an embedded SQLite file under the data dir by default, or
 * PostgreSQL when given a `postgres://` URL. Either way callers get the same typed Kysely
 * handle, and the migrations have run before this returns.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type Migration, type MigrationProvider } from 'kysely';
import type { ControllerTables } from './schema.js';
import { migrationSets } from './migration-sets.js';

export type ControllerDialect = 'sqlite' | 'postgres';

export interface ControllerDb {
  readonly db: Kysely<ControllerTables>;
  readonly dialect: ControllerDialect;
  /** Where the data lives, with any password removed (for logs and `--help` output). */
  readonly location: string;
  /**
   * Opens every pool connection now (PostgreSQL; nothing to do on SQLite), so the first requests
   * after start-up do not wait for connections to be opened one by one under load.
   */
  warmUp(): Promise<void>;
  /**
   * PostgreSQL only: a new, unconnected client outside the pool (for LISTEN, which holds its
   * connection), and the scope (schema) whose notifications are this database's.
   */
  readonly listenClient?: () => { client: pg.Client; scope: string };
  close(): Promise<void>;
}

export interface OpenControllerDbOptions {
  /** `postgres://…` / `postgresql://…` URL, or a SQLite file path; default `<dataDir>/controller.db`. */
  url?: string;
  dataDir: string;
  /** PostgreSQL schema to use (created if missing). Also read from the URL's `?schema=` parameter. */
  schema?: string;
  /** Extra migrations (tests); production modules register theirs in migration-sets.ts. */
  extraMigrations?: Record<string, Migration>;
}

export class StorageConfigError extends Error {
  override name = 'StorageConfigError';
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;
const PG_INT8_OID = 20;

export function isPostgresUrl(url: string | undefined): url is string {
  return url !== undefined && /^postgres(ql)?:\/\//i.test(url);
}

export async function openControllerDb(opts: OpenControllerDbOptions): Promise<ControllerDb> {
  const handle = isPostgresUrl(opts.url) ? openPostgres(opts.url, opts.schema) : openSqlite(opts.url ?? join(opts.dataDir, 'controller.db'));
  try {
    if (handle.dialect === 'postgres' && handle.schema) {
      await handle.db.schema.createSchema(handle.schema).ifNotExists().execute();
    }
    // On PostgreSQL, name the schema of Kysely's own migration tables: without it Kysely looks for
    // them in every schema and may find another schema's, then fail to lock in ours.
    await runMigrations(handle.db, opts.extraMigrations, handle.dialect === 'postgres' ? (handle.schema ?? 'public') : undefined);
  } catch (err) {
    await handle.close();
    if (err instanceof StorageConfigError) throw err;
    throw new StorageConfigError(`cannot open controller database at ${handle.location}: ${(err as Error).message}`);
  }
  return handle;
}

function openSqlite(file: string): ControllerDb & { schema?: undefined } {
  let sqlite: Database.Database;
  try {
    sqlite = new Database(file);
  } catch (err) {
    throw new StorageConfigError(`cannot open SQLite database ${file}: ${(err as Error).message}`);
  }
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('busy_timeout = 5000');
  sqlite.pragma('foreign_keys = ON');
  const db = new Kysely<ControllerTables>({ dialect: new SqliteDialect({ database: sqlite }) });
  return { db, dialect: 'sqlite', location: file, warmUp: async () => {}, close: () => db.destroy() };
}

/**
 * Connections per controller process (`?poolSize=N` in the URL overrides it). A mesh route is a
 * handful of short statements; with 10 connections two controllers at 30 routes/s plus 100
 * long-polling agents queued for connections, not for the database.
 */
export const DEFAULT_PG_POOL_SIZE = 20;

function openPostgres(rawUrl: string, schemaOpt: string | undefined): ControllerDb & { schema?: string } {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new StorageConfigError(`--db is not a valid URL: ${rawUrl.replace(/\/\/[^@/]*@/, '//***@')}`);
  }
  const schema = schemaOpt ?? url.searchParams.get('schema') ?? undefined;
  url.searchParams.delete('schema');
  const poolParam = url.searchParams.get('poolSize');
  url.searchParams.delete('poolSize');
  const poolSize = poolParam === null ? DEFAULT_PG_POOL_SIZE : Number(poolParam);
  if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > 1000) {
    throw new StorageConfigError(`PostgreSQL poolSize must be a whole number from 1 to 1000 (got "${poolParam}")`);
  }
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new StorageConfigError(`PostgreSQL schema name must match ${SCHEMA_NAME.source} (got "${schema}")`);
  }
  const pool = new pg.Pool({
    connectionString: url.toString(),
    max: poolSize,
    // Connections stay open once opened (pg closes idle ones after 10 s by default): opening one
    // (a new PostgreSQL backend, with cold catalog caches) in the middle of a request made that
    // request's tail, and a quiet spell then a burst opened them all again.
    min: poolSize,
    idleTimeoutMillis: 0,
    // search_path per connection, so every query of this handle lands in the chosen schema.
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
    // Timestamps are bigint epoch ms; parse them as numbers (safe until year 287396).
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === PG_INT8_OID ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const db = new Kysely<ControllerTables>({ dialect: new PostgresDialect({ pool }) });
  const safe = new URL(url.toString());
  if (safe.password) safe.password = '***';
  return {
    db,
    dialect: 'postgres',
    schema,
    location: `${safe.toString()}${schema ? ` (schema ${schema})` : ''}`,
    async warmUp() {
      const clients = await Promise.all(Array.from({ length: poolSize }, () => pool.connect()));
      try {
        await Promise.all(clients.map((c) => c.query('SELECT 1')));
      } finally {
        clients.forEach((c) => c.release());
      }
    },
    listenClient: () => ({ client: new pg.Client({ connectionString: url.toString() }), scope: schema ?? 'public' }),
    close: () => db.destroy(),
  };
}

async function runMigrations(db: Kysely<ControllerTables>, extra: Record<string, Migration> | undefined, migrationTableSchema: string | undefined): Promise<void> {
  const all: Record<string, Migration> = {};
  for (const set of [...migrationSets, extra ?? {}]) {
    for (const [name, migration] of Object.entries(set)) {
      if (name in all) throw new StorageConfigError(`duplicate migration name "${name}"`);
      all[name] = migration;
    }
  }
  const provider: MigrationProvider = { getMigrations: async () => all };
  // Modules add migrations independently, so a new one may sort before one already applied.
  const migrator = new Migrator({ db, provider, allowUnorderedMigrations: true, ...(migrationTableSchema ? { migrationTableSchema } : {}) });
  for (let attempt = 1; ; attempt++) {
    const { error, results } = await migrator.migrateToLatest();
    if (!error) return;
    const failed = results?.find((r) => r.status === 'Error');
    // Kysely finds its migration tables by introspecting every schema; another schema dropped by
    // someone else meanwhile fails that query with invalid_schema_name (3F000) before anything is
    // applied here, so running it again is safe.
    if (!failed && (error as { code?: unknown }).code === '3F000' && attempt < 5) continue;
    const message = (error as Error).message ?? String(error);
    // No failed migration means the database itself could not be reached or locked.
    if (!failed) throw new Error(message);
    throw new StorageConfigError(`migration ${failed.migrationName} failed: ${message}`);
  }
}
