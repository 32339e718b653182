/**
 * `switchboard goose install|uninstall` in a throw-away HOME against a real local org (`up`):
 * the controller serves the role's allowlist in Goose's format; install merges provider,
 * extensions and GOOSE_ALLOWLIST into an existing config (keeping the user's keys), backs it
 * up, is idempotent, dry-runs as a diff; uninstall restores the exact original.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startUp, type RunningUp } from '../../bin/commands/up.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { cliInProcess } from './cli-in-process.js';

const ORIGINAL = `# my goose config
GOOSE_PROVIDER: openai
GOOSE_MODEL: gpt-4o
extensions:
  developer:
    enabled: true
    type: platform
    name: developer
`;

describe('switchboard goose install / uninstall', () => {
  let upstream: ScriptedUpstream;
  let up: RunningUp;
  let dataDir: string;
  let home: string;
  let gooseDir: string;
  const env = () => ({ HOME: home, XDG_CONFIG_HOME: undefined, GOOSE_PATH_ROOT: undefined, APPDATA: undefined });

  before(async () => {
    upstream = await startScriptedUpstream();
    dataDir = mkdtempSync(join(tmpdir(), 'sb-goose-install-data-'));
    home = mkdtempSync(join(tmpdir(), 'sb-goose-home-'));
    gooseDir = join(home, '.config', 'goose');
    mkdirSync(gooseDir, { recursive: true });
    writeFileSync(join(gooseDir, 'config.yaml'), ORIGINAL);
    up = await startUp({ dataDir, port: '0', controllerPort: '0', role: 'finance', upstream: upstream.baseUrl, logLevel: 'silent' });
  });
  after(async () => {
    await up.stop();
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(home, { recursive: true, force: true });
  });

  it('the controller serves the role allowlist in the format Goose reads', async () => {
    const res = await fetch(`${up.controllerUrl}/api/v1/goose/allowlist/finance`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /yaml/);
    const doc = parseYaml(await res.text()) as { extensions: Array<{ id: string; command: string }> };
    const ids = doc.extensions.map((e) => e.id);
    assert.deepEqual(ids.slice(0, 2), ['agent_mesh', 'privacy_guard']);
    for (const id of ['developer', 'memory', 'computercontroller', 'google_drive']) assert.ok(ids.includes(id), id);
    assert.deepEqual(doc.extensions.find((e) => e.id === 'developer'), { id: 'developer', command: 'goose mcp developer' });
    assert.equal(doc.extensions.find((e) => e.id === 'agent_mesh')?.command, 'switchboard mesh mcp');
    const missing = await fetch(`${up.controllerUrl}/api/v1/goose/allowlist/astronaut`);
    assert.equal(missing.status, 404);
  });

  it('--dry-run prints a diff of provider, extensions and allowlist and writes nothing', async () => {
    const r = await cliInProcess(['goose', 'install', '--role', 'finance', '--data-dir', dataDir, '--gateway-url', up.gateway.url, '--dry-run'], env());
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^-GOOSE_PROVIDER: openai$/m);
    assert.match(r.stdout, /^\+GOOSE_PROVIDER: switchboard$/m);
    assert.match(r.stdout, new RegExp(`^\\+GOOSE_ALLOWLIST: ${up.controllerUrl}/api/v1/goose/allowlist/finance$`, 'm'));
    assert.match(r.stdout, /^\+ {2}agent_mesh:$/m);
    assert.match(r.stdout, /^\+ {2}privacy_guard:$/m);
    assert.match(r.stdout, /^\+\+\+ .*custom_providers\/switchboard\.json/m);
    assert.ok(!r.stdout.includes(up.gateway.server.services.localToken), 'token redacted');
    assert.equal(readFileSync(join(gooseDir, 'config.yaml'), 'utf8'), ORIGINAL);
    assert.ok(!existsSync(join(gooseDir, 'custom_providers')));
  });

  it('install merges and backs up; a second install changes nothing; uninstall restores the original', async () => {
    const r = await cliInProcess(['goose', 'install', '--role', 'finance', '--data-dir', dataDir, '--gateway-url', up.gateway.url], env());
    assert.equal(r.code, 0, r.stderr);
    const configPath = join(gooseDir, 'config.yaml');
    const text = readFileSync(configPath, 'utf8');
    assert.match(text, /^# my goose config/, 'comment kept');
    const config = parseYaml(text) as { GOOSE_PROVIDER: string; GOOSE_ALLOWLIST: string; extensions: Record<string, { type: string; cmd: string; args: string[]; enabled: boolean }> };
    assert.equal(config.GOOSE_PROVIDER, 'switchboard');
    assert.equal(config.GOOSE_ALLOWLIST, `${up.controllerUrl}/api/v1/goose/allowlist/finance`);
    assert.equal((config as unknown as { GOOSE_MODEL: string }).GOOSE_MODEL, 'openai/gpt-4.1', "Finance's default model (claude-sonnet-4 is premium, which Finance may not use)");
    assert.doesNotMatch(r.stdout, /^note:/m, 'the role matches the enrolment');
    assert.equal(config.extensions.developer?.type, 'platform', "the user's extension is kept");
    const mesh = config.extensions.agent_mesh!;
    assert.equal(mesh.type, 'stdio');
    assert.equal(mesh.enabled, true);
    assert.deepEqual(mesh.args.slice(-4), ['mesh', 'mcp', '--data-dir', dataDir]);
    assert.deepEqual(config.extensions.privacy_guard!.args.slice(-4), ['guard', 'mcp', '--data-dir', dataDir]);
    assert.equal(readFileSync(`${configPath}.bak`, 'utf8'), ORIGINAL);
    const provider = JSON.parse(readFileSync(join(gooseDir, 'custom_providers', 'switchboard.json'), 'utf8')) as { base_url: string };
    assert.equal(provider.base_url, `${up.gateway.url}/goose/v1`);

    const mtime = statSync(configPath).mtimeMs;
    const again = await cliInProcess(['goose', 'setup', '--role', 'finance', '--data-dir', dataDir, '--gateway-url', up.gateway.url], env());
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /unchanged\s+config\.yaml/);
    assert.match(again.stdout, /unchanged\s+custom_providers\/switchboard\.json/);
    assert.equal(statSync(configPath).mtimeMs, mtime);
    assert.equal(readFileSync(`${configPath}.bak`, 'utf8'), ORIGINAL, 'backup still holds the pre-Switchboard config');

    const undo = await cliInProcess(['goose', 'uninstall', '--data-dir', dataDir], env());
    assert.equal(undo.code, 0, undo.stderr);
    assert.equal(readFileSync(configPath, 'utf8'), ORIGINAL);
    assert.ok(!existsSync(`${configPath}.bak`));
    assert.ok(!existsSync(join(gooseDir, 'custom_providers', 'switchboard.json')));
  });

  it('uninstall without a backup takes out only Switchboard keys', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-goose-fresh-'));
    try {
      const r = await cliInProcess(['goose', 'install', '--role', 'marketing', '--data-dir', dataDir, '--goose-config-dir', dir, '--gateway-url', up.gateway.url], env());
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^note: the gateway in .* is enrolled as finance: it applies that role's models and allowlist, not marketing's\. Run `switchboard up --role marketing` to switch\.$/m);
      assert.equal((parseYaml(readFileSync(join(dir, 'config.yaml'), 'utf8')) as { GOOSE_MODEL: string }).GOOSE_MODEL, 'google/gemini-2.5-flash');
      writeFileSync(join(dir, 'config.yaml'), `${readFileSync(join(dir, 'config.yaml'), 'utf8')}GOOSE_MODE: approve\n`);
      const undo = await cliInProcess(['goose', 'uninstall', '--data-dir', dataDir, '--goose-config-dir', dir], env());
      assert.equal(undo.code, 0, undo.stderr);
      const left = parseYaml(readFileSync(join(dir, 'config.yaml'), 'utf8')) as Record<string, unknown>;
      assert.deepEqual(left, { GOOSE_MODE: 'approve', extensions: {} });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
