import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gooseEnv, noProxyValue, renderEnv } from '../../installers/goose/env.js';
import { launchdPlist, serviceFile, systemdUnit } from '../../installers/service/units.js';
import { loaderArgs, packageRoot } from '../../installers/service/command.js';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sb-service-'));
  dirs.push(d);
  return d;
}

describe('goose env', () => {
  it('openai provider: host plus a base path with a leading slash (keeps gpt-5 ids on Chat Completions)', () => {
    const vars = Object.fromEntries(gooseEnv({ provider: 'openai', gatewayUrl: 'http://127.0.0.1:8787/', token: 'tok', model: 'openai/gpt-5.1' }));
    assert.equal(vars.GOOSE_PROVIDER, 'openai');
    assert.equal(vars.OPENAI_HOST, 'http://127.0.0.1:8787');
    assert.equal(vars.OPENAI_BASE_PATH, '/v1/chat/completions');
    assert.equal(vars.OPENAI_API_KEY, 'tok');
    assert.equal(vars.GOOSE_MODEL, 'openai/gpt-5.1');
    assert.equal(vars.GOOSE_FAST_MODEL, undefined);
    assert.equal(vars.NO_PROXY, '127.0.0.1,localhost');
  });

  it('openrouter provider: OPENROUTER_HOST and the token as its key', () => {
    const vars = Object.fromEntries(
      gooseEnv({ provider: 'openrouter', gatewayUrl: 'http://127.0.0.1:9000', token: 'tok', model: 'm', fastModel: 'f', existingNoProxy: 'corp.example, localhost' }),
    );
    assert.equal(vars.OPENROUTER_HOST, 'http://127.0.0.1:9000');
    assert.equal(vars.OPENROUTER_API_KEY, 'tok');
    assert.equal(vars.OPENAI_HOST, undefined);
    assert.equal(vars.GOOSE_FAST_MODEL, 'f');
    assert.equal(vars.no_proxy, '127.0.0.1,localhost,corp.example');
    assert.equal(noProxyValue(undefined), '127.0.0.1,localhost');
  });

  it('sh output round-trips awkward values through a real shell', () => {
    const tricky = `it's "quoted" $HOME \\ back`;
    const script = `${renderEnv([['SB_TEST_VALUE', tricky]], 'sh')}printf '%s' "$SB_TEST_VALUE"`;
    assert.equal(execFileSync('/bin/sh', ['-c', script], { encoding: 'utf8' }), tricky);
  });

  it('renders fish and PowerShell syntax', () => {
    assert.equal(renderEnv([['A', "x'y"]], 'fish'), "set -gx A 'x\\'y'\n");
    assert.equal(renderEnv([['A', "x'y"]], 'powershell'), "$env:A = 'x''y'\n");
  });
});

describe('service units', () => {
  const inputs = { command: ['/usr/bin/node', '--import', 'tsx', '/opt/switch board/bin/switchboard.js'], dataDir: '/var/lib/sb data', workingDir: '/opt/switch board' };

  it('systemd unit runs `gateway --data-dir` with quoted paths and loads the key from gateway.env', () => {
    const unit = systemdUnit(inputs);
    assert.match(unit, /^ExecStart=\/usr\/bin\/node --import tsx "\/opt\/switch board\/bin\/switchboard.js" gateway --data-dir "\/var\/lib\/sb data"$/m);
    assert.match(unit, /^EnvironmentFile=-\/var\/lib\/sb data\/gateway.env$/m);
    assert.match(unit, /^WorkingDirectory=\/opt\/switch board$/m);
    assert.match(unit, /^WantedBy=default.target$/m);
    assert.doesNotMatch(unit, /^Environment=/m, 'no secret in the unit');
    assert.match(systemdUnit({ ...inputs, dataDir: '/d/50%$x' }), /--data-dir \/d\/50%%\$\$x$/m);
  });

  it('launchd plist escapes XML and its wrapper really loads gateway.env before exec', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'gateway.env'), 'OPENROUTER_API_KEY=sk-or-from-env-file\n');
    // Stand-in CLI: prints the key it sees and its arguments.
    const command = [process.execPath, '-e', 'process.stdout.write(process.env.OPENROUTER_API_KEY + " " + process.argv.slice(1).join(" "))'];
    const plist = launchdPlist({ command, dataDir: dir, workingDir: dir });
    assert.match(plist, /<key>Label<\/key>\s*<string>dev\.switchboard\.gateway<\/string>/);
    assert.ok(!/<string>[^<]*&&[^<]*<\/string>/.test(plist), 'ampersands are escaped');
    const args = [...plist.matchAll(/<string>([^<]*)<\/string>/g)]
      .map((m) => m[1]!.replaceAll('&quot;', '"').replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&amp;', '&'));
    const start = args.indexOf('/bin/sh');
    const end = args.lastIndexOf(dir, args.indexOf('--data-dir') + 1) + 1;
    const argv = args.slice(start, end);
    const output = execFileSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    assert.equal(output, `sk-or-from-env-file gateway --data-dir ${dir}`);
  });

  it('places files in the per-user service dirs and only prints activation commands', () => {
    const systemd = serviceFile('systemd', inputs, '/home/a', {});
    assert.equal(systemd.path, '/home/a/.config/systemd/user/switchboard-gateway.service');
    assert.ok(systemd.activate.some((c) => c.includes('systemctl --user enable --now switchboard-gateway.service')));
    const launchd = serviceFile('launchd', inputs, '/Users/a', {});
    assert.equal(launchd.path, '/Users/a/Library/LaunchAgents/dev.switchboard.gateway.plist');
  });

  it('keeps the loader flags needed to start the CLI again', () => {
    assert.deepEqual(loaderArgs(['--import', 'tsx', '--max-old-space-size=100', '--require=/x/pre.cjs', '--enable-source-maps']), ['--import', 'tsx', '--require=/x/pre.cjs']);
    assert.equal(packageRoot(join(process.cwd(), 'bin')), process.cwd());
  });
});
