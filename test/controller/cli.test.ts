import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SigningKeys } from '../../controller/auth/signing-keys.js';
import { AccessTokens } from '../../controller/auth/access-tokens.js';
import { CONTROLLER_AUDIENCE, DEFAULT_ISSUER } from '../../controller/services.js';
import { adminTokenCommand, directoryImportCommand, enrolCodeCommand } from '../../bin/commands/controller.js';
import { CliError } from '../../bin/cli-support.js';
import { sampleDirectoryYaml } from './harness.js';

const run = promisify(execFile);

describe('controller CLI', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-ctl-cli-'));
    writeFileSync(join(dir, 'org.yaml'), sampleDirectoryYaml);
    writeFileSync(join(dir, 'bad.csv'), 'id,kind,name,parent\nx,person,X,nowhere\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("imports a directory file, then creates an enrolment code with the person's roles", async () => {
    assert.match(await directoryImportCommand(join(dir, 'org.yaml'), { dataDir: dir }), /12 created, 0 updated/);
    const created = JSON.parse(await enrolCodeCommand({ dataDir: dir, subject: 'ana', role: [], ttl: '1h', json: true })) as { code: string; roles: string[] };
    assert.match(created.code, /^sbe_/);
    assert.deepEqual(created.roles, ['finance']);
    await assert.rejects(enrolCodeCommand({ dataDir: dir, subject: 'gateway:x', role: [], ttl: '1h' }), (e: unknown) => e instanceof CliError && /give --role/.test(e.message));
    await assert.rejects(enrolCodeCommand({ dataDir: dir, subject: 'ana', role: [], ttl: 'soon' }), (e: unknown) => e instanceof CliError && /--ttl must be a duration/.test(e.message));
    // A role without a profile would leave the gateway with no policy: refused, naming the roles that have one.
    await assert.rejects(
      enrolCodeCommand({ dataDir: dir, subject: 'gateway:x', role: ['treasury'], ttl: '1h' }),
      (e: unknown) => e instanceof CliError && /--role: role "treasury" has no profile.*engineering, finance, marketing/.test(e.message),
    );
    await assert.rejects(
      enrolCodeCommand({ dataDir: dir, subject: 'ana', role: ['marketing'], ttl: '1h' }),
      (e: unknown) => e instanceof CliError && /"ana" does not hold "marketing" in the directory/.test(e.message),
    );
    // cfo holds finance and treasury; only finance has a profile.
    const cfo = JSON.parse(await enrolCodeCommand({ dataDir: dir, subject: 'cfo', role: [], ttl: '1h', json: true })) as { roles: string[]; tenant: string; code: string };
    assert.deepEqual(cfo.roles, ['finance']);
    assert.equal(cfo.tenant, 'default');
    assert.match(cfo.code, /^sbe_[\w-]+\.[\w-]{22}$/, 'the code carries the bundle-key fingerprint');
  });

  it('prints an admin token that verifies against the data dir keys, capped at 30 minutes', async () => {
    const token = (await adminTokenCommand({ dataDir: dir, subject: 'admin:local', ttl: '5m' })).trim();
    const tokens = new AccessTokens(await SigningKeys.loadOrCreate(dir), { issuer: DEFAULT_ISSUER, audience: CONTROLLER_AUDIENCE, tenant: 'unused' });
    const caller = await tokens.verify(token);
    assert.deepEqual(caller.roles, ['admin']);
    assert.ok(caller.expiresAt - Math.floor(Date.now() / 1000) <= 300);
    await assert.rejects(adminTokenCommand({ dataDir: dir, subject: 'admin:local', ttl: '2h' }), (e: unknown) => e instanceof CliError && /--ttl must be between/.test(e.message));
  });

  it('the binary reports an invalid import file in one clear line set, exit code 2, no stack trace', async () => {
    const res = await run(process.execPath, ['--import', 'tsx', 'bin/switchboard.ts', 'directory', 'import', join(dir, 'bad.csv'), '--data-dir', dir], { timeout: 300_000 })
      .then(() => ({ code: 0, stderr: '' }), (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }));
    assert.equal(res.code, 2);
    assert.match(res.stderr, /row 2 \(id x\): parent: unknown node "nowhere"/);
    assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace');
  });
});
