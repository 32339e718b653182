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
import { sampleDirectoryYaml } from './harness.js';
import { Command } from 'commander';
import { registerControllerCommands } from '../../bin/commands/controller.js';
import { CliError } from '../../bin/cli-support.js';

const run = promisify(execFile);

/** Runs the real command in-process (spawning tsx per call is slow); stdout is captured. */
async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const program = new Command().exitOverride();
  registerControllerCommands(program);
  const out: string[] = [];
  const err: string[] = [];
  const realOut = process.stdout.write.bind(process.stdout);
  const realErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string) => (out.push(String(chunk)), true)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string) => (err.push(String(chunk)), true)) as typeof process.stderr.write;
  try {
    await program.parseAsync(args, { from: 'user' });
    return { code: 0, stdout: out.join(''), stderr: err.join('') };
  } catch (e) {
    if (e instanceof CliError) return { code: e.exitCode, stdout: out.join(''), stderr: `switchboard: ${e.message}\n` };
    throw e;
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
  }
}

/** The real binary, for what only a process shows: exit code and stderr. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'bin/switchboard.ts', ...args], { timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('controller CLI', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-ctl-cli-'));
    writeFileSync(join(dir, 'org.yaml'), sampleDirectoryYaml);
    writeFileSync(join(dir, 'bad.csv'), 'id,kind,name,parent\nx,person,X,nowhere\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('imports a directory file, then creates an enrolment code with the person\'s roles', async () => {
    const imported = await inProcess(['directory', 'import', join(dir, 'org.yaml'), '--data-dir', dir]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stdout, /12 created, 0 updated/);
    const code = await inProcess(['controller', 'enrol-code', '--subject', 'ana', '--json', '--data-dir', dir]);
    assert.equal(code.code, 0, code.stderr);
    const created = JSON.parse(code.stdout) as { code: string; roles: string[] };
    assert.match(created.code, /^sbe_/);
    assert.deepEqual(created.roles, ['finance']);
  });

  it('reports an invalid import file in one clear message with exit code 2', async () => {
    const res = await cli(['directory', 'import', join(dir, 'bad.csv'), '--data-dir', dir]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /row 2 \(id x\): parent: unknown node "nowhere"/);
    assert.doesNotMatch(res.stderr, /\n\s+at /, 'no stack trace');
  });

  it('prints an admin token that verifies against the data dir keys', async () => {
    const res = await inProcess(['controller', 'admin-token', '--ttl', '5m', '--data-dir', dir]);
    assert.equal(res.code, 0, res.stderr);
    const tokens = new AccessTokens(await SigningKeys.loadOrCreate(dir), { issuer: DEFAULT_ISSUER, audience: CONTROLLER_AUDIENCE });
    const caller = await tokens.verify(res.stdout.trim());
    assert.deepEqual(caller.roles, ['admin']);
    assert.ok(caller.expiresAt - Math.floor(Date.now() / 1000) <= 300);
    const tooLong = await inProcess(['controller', 'admin-token', '--ttl', '2h', '--data-dir', dir]);
    assert.equal(tooLong.code, 2);
    assert.match(tooLong.stderr, /--ttl must be between/);
  });
});
