import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from './backends.js';
import { listTables } from '../../controller/storage/migrations.js';
import { openControllerDb, StorageConfigError } from '../../controller/storage/database.js';
import { DirectoryRepository } from '../../controller/directory/repository.js';
import type { DirectoryNode } from '../../controller/directory/types.js';
import type { Kysely } from 'kysely';

const node = (n: Partial<DirectoryNode> & Pick<DirectoryNode, 'id' | 'kind'>): DirectoryNode => ({
  name: n.id,
  parentId: null,
  email: null,
  attributes: {},
  managerId: null,
  roles: [],
  ...n,
});

const org: DirectoryNode[] = [
  node({ id: 'acme', kind: 'org' }),
  node({ id: 'finance', kind: 'department', parentId: 'acme' }),
  node({ id: 'payables', kind: 'team', parentId: 'finance' }),
  node({ id: 'role-finance', kind: 'role' }),
  node({ id: 'cfo', kind: 'person', parentId: 'finance', roles: ['role-finance'] }),
  node({ id: 'lead', kind: 'person', parentId: 'payables', managerId: 'cfo', roles: ['role-finance'] }),
  node({ id: 'ana', kind: 'person', parentId: 'payables', managerId: 'lead', roles: ['role-finance'], attributes: { clearance: 2, remote: true } }),
];

for (const backend of backends) {
  describe(`controller storage on ${backend.name}`, () => {
    it('migrates the core tables and re-opening is a no-op', async () => {
      const b = await backend.open();
      try {
        const tables = await listTables(b.handle.db as unknown as Kysely<Record<string, never>>, schemaOf(b.dbUrl));
        for (const t of ['directory_edges', 'directory_nodes', 'enrolment_codes', 'refresh_tokens']) assert.ok(tables.includes(t), `${t} missing`);
        const again = await openControllerDb({ dataDir: b.dataDir, url: b.dbUrl });
        await again.close();
      } finally {
        await b.dispose();
      }
    });

    it('stores the directory graph, walks manager chains and resolves person facts', async () => {
      const b = await backend.open();
      try {
        const repo = new DirectoryRepository(b.handle.db);
        assert.deepEqual(await repo.upsert(org, 1_700_000_000_000), { created: 7, updated: 0 });
        assert.deepEqual(await repo.upsert([{ ...org[6]!, name: 'Ana P.' }]), { created: 0, updated: 1 });
        const ana = await repo.get('ana');
        assert.equal(ana?.name, 'Ana P.');
        assert.deepEqual(ana?.attributes, { clearance: 2, remote: true });
        assert.deepEqual(ana?.roles, ['role-finance']);
        assert.deepEqual((await repo.managerChain('ana')).map((n) => n.id), ['lead', 'cfo']);
        assert.deepEqual(await repo.managerChain('cfo'), []);
        const facts = await repo.personFacts('ana');
        assert.deepEqual(facts, {
          id: 'ana',
          roles: ['role-finance'],
          department: 'finance',
          team: 'payables',
          org: 'acme',
          managerId: 'lead',
          attributes: { clearance: 2, remote: true },
        });
        assert.equal(await repo.personFacts('finance'), undefined);
        assert.equal(await repo.count(), 7);
        const row = await b.handle.db.selectFrom('directory_nodes').select('created_at').where('id', '=', 'acme').executeTakeFirstOrThrow();
        assert.equal(row.created_at, 1_700_000_000_000, 'bigint timestamps come back as numbers');
      } finally {
        await b.dispose();
      }
    });
  });
}

/** The PostgreSQL schema a test backend uses (undefined for SQLite). */
function schemaOf(dbUrl: string | undefined): string | undefined {
  return dbUrl ? (new URL(dbUrl).searchParams.get('schema') ?? undefined) : undefined;
}

describe('controller storage configuration', () => {
  it('creates the same tables on SQLite and PostgreSQL (one migration set)', async () => {
    const opened = await Promise.all(backends.map((b) => b.open()));
    try {
      const [sqlite, postgres] = await Promise.all(opened.map((o) => listTables(o.handle.db as unknown as Kysely<Record<string, never>>, schemaOf(o.dbUrl))));
      assert.deepEqual(sqlite, postgres);
    } finally {
      await Promise.all(opened.map((o) => o.dispose()));
    }
  });

  it('reports an unreachable PostgreSQL with its location and without the password', async () => {
    await assert.rejects(
      openControllerDb({ dataDir: '/nonexistent', url: 'postgres://postgres:hunter2@127.0.0.1:1/test' }),
      (err: unknown) =>
        err instanceof StorageConfigError &&
        /cannot open controller database at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/test: connect ECONNREFUSED/.test(err.message) &&
        !err.message.includes('hunter2'),
    );
  });

  it('takes the PostgreSQL pool size from ?poolSize= and refuses a bad one', async () => {
    for (const bad of ['0', 'ten', '2.5', '5000']) {
      await assert.rejects(
        openControllerDb({ dataDir: '/nonexistent', url: `postgres://postgres@127.0.0.1:5432/test?poolSize=${bad}` }),
        (err: unknown) => err instanceof StorageConfigError && /poolSize must be a whole number from 1 to 1000 \(got "/.test(err.message),
      );
    }
  });

  it('rejects an unsafe PostgreSQL schema name', async () => {
    await assert.rejects(
      openControllerDb({ dataDir: '/nonexistent', url: 'postgres://postgres@127.0.0.1:5432/test?schema=bad;drop' }),
      (err: unknown) => err instanceof StorageConfigError && /schema name must match/.test(err.message),
    );
  });
});

describe('enrolment storage on both backends', () => {
  for (const backend of backends) {
    it(`${backend.name}: a code is single use even when redeemed concurrently, refresh rotates`, async () => {
      const b = await backend.open();
      try {
        const { SigningKeys } = await import('../../controller/auth/signing-keys.js');
        const { AccessTokens } = await import('../../controller/auth/access-tokens.js');
        const { Enrolment, CredentialRejected } = await import('../../controller/auth/enrolment.js');
        const tokens = new AccessTokens(await SigningKeys.loadOrCreate(b.dataDir), { issuer: 'urn:test', audience: 'switchboard-controller', tenant: 'acme' });
        const enrolment = new Enrolment(b.handle.db, tokens, { tenant: 'acme', rolesOf: async () => undefined, bundleKeysFingerprint: async () => 'fp' });
        const { code } = await enrolment.createCode({ subject: 'gateway:a', roles: ['engineering'], createdBy: 'test' });
        const results = await Promise.allSettled([enrolment.exchange(code), enrolment.exchange(code), enrolment.exchange(code)]);
        const won = results.filter((r) => r.status === 'fulfilled');
        assert.equal(won.length, 1, 'exactly one redeemer wins');
        for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof CredentialRejected);
        const pair = (won[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof enrolment.exchange>>>).value;
        const caller = await tokens.verify(pair.accessToken.token);
        assert.deepEqual([caller.subject, caller.roles, caller.tenant], ['gateway:a', ['engineering'], 'acme']);
        const next = await enrolment.refresh(pair.refreshToken);
        assert.notEqual(next.refreshToken, pair.refreshToken);
        await enrolment.refresh(next.refreshToken);
        // The first token's successor has been used: presenting it now is a copy, not a lost reply.
        await assert.rejects(enrolment.refresh(pair.refreshToken), CredentialRejected);
        const rows = await b.handle.db.selectFrom('refresh_tokens').select(['revoked_at']).execute();
        assert.equal(rows.length, 3);
        assert.ok(rows.every((r) => typeof r.revoked_at === 'number'), 'reuse revoked the family');
      } finally {
        await b.dispose();
      }
    });
  }
});
