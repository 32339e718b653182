import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openControllerDb, type ControllerDb } from '../../controller/storage/database.js';
import { DirectoryRepository } from '../../controller/directory/repository.js';
import { DirectoryImportError, importDirectory } from '../../controller/directory/import.js';
import { sampleDirectoryYaml } from './harness.js';

describe('directory import', () => {
  let dir: string;
  let handle: ControllerDb;
  let repo: DirectoryRepository;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-dir-'));
    handle = await openControllerDb({ dataDir: dir });
    repo = new DirectoryRepository(handle.db);
  });
  after(async () => {
    await handle.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function problems(text: string, format: 'yaml' | 'csv'): Promise<string[]> {
    try {
      await importDirectory(text, format, 'input', repo);
    } catch (err) {
      if (err instanceof DirectoryImportError) return err.problems;
      throw err;
    }
    assert.fail('import was expected to fail');
  }

  it('imports YAML and is idempotent on re-import', async () => {
    assert.deepEqual(await importDirectory(sampleDirectoryYaml, 'yaml', 'a.yaml', repo), { created: 12, updated: 0 });
    assert.deepEqual(await importDirectory(sampleDirectoryYaml, 'yaml', 'a.yaml', repo), { created: 0, updated: 12 });
    assert.deepEqual((await repo.managerChain('ana')).map((n) => n.id), ['lead', 'cfo']);
  });

  it('imports CSV with roles lists and typed attr.* columns, referring to stored nodes', async () => {
    const csv = 'id,kind,name,parent,email,manager,roles,attr.clearance,attr.remote,attr.site\n' +
      'bea,person,Bea,payables,bea@acme.test,ana,finance;treasury,3,true,Lisbon\n';
    assert.deepEqual(await importDirectory(csv, 'csv', 'b.csv', repo), { created: 1, updated: 0 });
    const bea = await repo.get('bea');
    assert.deepEqual(bea?.roles, ['finance', 'treasury']);
    assert.deepEqual(bea?.attributes, { clearance: 3, remote: true, site: 'Lisbon' });
    assert.equal(bea?.email, 'bea@acme.test');
  });

  it('names the row and key of every CSV problem and writes nothing', async () => {
    const before = await repo.count();
    const csv = 'id,kind,name,parent,manager,roles\n' +
      'c1,person,C1,payables,ghost,\n' +
      'c2,wizard,C2,,,\n' +
      'c3,team,C3,ana,,\n' +
      'c4,person,C4,payables,,sales\n' +
      'c1,person,C1 again,payables,,\n';
    assert.deepEqual(await problems(csv, 'csv'), [
      'row 3 (id c2): kind: must be one of "org", "department", "team", "person", "role" (got "wizard")',
      'row 6 (id c1): id: duplicate of row 2',
      'row 2 (id c1): manager: unknown node "ghost"',
      'row 4 (id c3): parent: a team cannot sit inside a person ("ana")',
      'row 5 (id c4): roles: unknown role "sales" (add a node with kind: role)',
    ]);
    assert.equal(await repo.count(), before);
  });

  it('refuses unknown CSV columns, bad YAML shapes and manager cycles', async () => {
    assert.deepEqual(await problems('id,kind,name,colour\nx,org,X,red\n', 'csv'), ['column "colour": unknown (use id, kind, name, parent, email, manager, roles, attr.<name>)']);
    assert.deepEqual(await problems('people: []', 'yaml'), ['top level must be a mapping with a "nodes:" list']);
    assert.deepEqual(await problems('nodes:\n  - { id: x, kind: org, name: X, colour: red }\n', 'yaml'), ['nodes[0] (id x): colour: unknown key']);
    const cycle = 'nodes:\n  - { id: p1, kind: person, name: P1, manager: p2 }\n  - { id: p2, kind: person, name: P2, manager: p1 }\n';
    assert.deepEqual(await problems(cycle, 'yaml'), ['manager: cycle p1 → p2 → p1']);
    assert.deepEqual(await problems('nodes:\n  - { id: r, kind: role, name: R, manager: ana }\n', 'yaml'), ['nodes[0] (id r): manager: only a person has a manager or roles']);
  });

  it('reuses node reads for cacheMs, and an upsert through the same repository is seen at once', async () => {
    await importDirectory(sampleDirectoryYaml, 'yaml', 'a.yaml', repo);
    const cached = new DirectoryRepository(handle.db, { cacheMs: 60_000 });
    const before = await cached.get('ana');
    assert.ok(before);
    assert.equal(before.name !== 'Ana Renamed', true);
    // A write by another repository (another controller process) is not seen while the entry is fresh ...
    await repo.upsert([{ ...before, name: 'Ana Renamed' }]);
    assert.equal((await cached.get('ana'))!.name, before.name);
    assert.equal((await repo.get('ana'))!.name, 'Ana Renamed', 'an uncached repository reads the table');
    // ... and a write through this repository clears it.
    await cached.upsert([{ ...before, name: 'Ana Again' }]);
    assert.equal((await cached.get('ana'))!.name, 'Ana Again');
    assert.deepEqual((await cached.managerChain('ana')).map((n) => n.id), ['lead', 'cfo']);
    await repo.upsert([before]);
  });

  it('keeps nodes in use while the directory version is unchanged, and drops them once another process writes', async (t) => {
    await importDirectory(sampleDirectoryYaml, 'yaml', 'a.yaml', repo);
    t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    const cached = new DirectoryRepository(handle.db, { cacheMs: 10_000 });
    /** Lets the background version check that a get started answer. */
    const settle = async () => {
      for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    };
    await cached.get('ana');
    await settle();
    const before = (await cached.get('ana'))!;
    // A change that bypasses the repository does not move the version: it shows that nodes in use
    // are served from the cache, not read again, while the version is unchanged ...
    await handle.db.updateTable('directory_nodes').set({ name: 'Ana Unversioned' }).where('id', '=', 'ana').execute();
    for (let i = 0; i < 6; i++) {
      t.mock.timers.tick(4_000);
      assert.equal((await cached.get('ana'))!.name, before.name, `served at ${(i + 1) * 4} s, past cacheMs since its read`);
      await settle();
    }
    // ... and nodes not vouched for by a check (the checks failing, or the cache unused) expire after cacheMs.
    t.mock.timers.tick(11_000);
    assert.equal((await cached.get('ana'))!.name, 'Ana Unversioned', 'unused for longer than cacheMs: read again');
    await settle();
    // A write by another repository (another controller process) moves the version: the next check empties the cache.
    await repo.upsert([{ ...before, name: 'Ana Elsewhere' }]);
    assert.equal((await cached.get('ana'))!.name, 'Ana Unversioned', 'within the check interval: still cached');
    t.mock.timers.tick(1_000);
    await cached.get('ana');
    await settle();
    assert.equal((await cached.get('ana'))!.name, 'Ana Elsewhere', 'seen one check interval after the write');
    await repo.upsert([before]);
  });
});
