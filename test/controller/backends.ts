/**
 * Runs storage tests on both backends: a temp SQLite file and a fresh PostgreSQL schema
 * (127.0.0.1:5432, db `test`, trust auth; override with SWITCHBOARD_TEST_PG_URL). The schema is
 * dropped afterwards. PostgreSQL being unreachable fails the test: CI has it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openControllerDb, type ControllerDb } from '../../controller/storage/database.js';

export const TEST_PG_URL = process.env.SWITCHBOARD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestBackend {
  name: 'sqlite' | 'postgres';
  /** Opens the database (migrated) and returns it plus the data dir; `dispose` removes everything. */
  open(): Promise<{ handle: ControllerDb; dataDir: string; dbUrl: string | undefined; dispose(): Promise<void> }>;
}

export const backends: TestBackend[] = [
  {
    name: 'sqlite',
    async open() {
      const dataDir = mkdtempSync(join(tmpdir(), 'sb-ctl-'));
      const handle = await openControllerDb({ dataDir });
      return {
        handle,
        dataDir,
        dbUrl: undefined,
        async dispose() {
          await handle.close();
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: 'postgres',
    async open() {
      const dataDir = mkdtempSync(join(tmpdir(), 'sb-ctl-'));
      const schema = `sb_test_${process.pid}_${randomBytes(4).toString('hex')}`;
      const dbUrl = `${TEST_PG_URL}?schema=${schema}`;
      let handle: ControllerDb;
      try {
        handle = await openControllerDb({ dataDir, url: dbUrl });
      } catch (err) {
        await dropSchema(schema);
        rmSync(dataDir, { recursive: true, force: true });
        throw err;
      }
      return {
        handle,
        dataDir,
        dbUrl,
        async dispose() {
          await handle.close();
          await dropSchema(schema);
          rmSync(dataDir, { recursive: true, force: true });
        },
      };
    },
  },
];

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
