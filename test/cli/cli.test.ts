import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, statSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Command } from 'commander';
import { buildProgram } from '../../bin/program.js';
import { loadConfigFile, ConfigError } from '../../bin/config.js';
import { SecretStore } from '../../platform/secrets/store.js';

const run = promisify(execFile);
const cli = (args: string[]) =>
  run(process.execPath, ['--import', 'tsx', 'bin/switchboard.ts', ...args], { env: { ...process.env, OPENROUTER_API_KEY: '' } }).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

function allCommands(cmd: Command): Command[] {
  return [cmd, ...cmd.commands.flatMap(allCommands)];
}

describe('switchboard CLI', () => {
  it('every command has a description and help text', () => {
    const program = buildProgram();
    const commands = allCommands(program);
    assert.ok(commands.length >= 5);
    for (const c of commands) {
      assert.ok(c.description().length > 10, `command "${c.name()}" needs a description`);
      assert.match(c.helpInformation(), /Usage:/);
    }
  });

  it('every leaf command takes --data-dir', () => {
    for (const c of allCommands(buildProgram())) {
      if (c.commands.length > 0 || c.name() === 'switchboard') continue;
      assert.ok(c.options.some((o) => o.long === '--data-dir'), `"${c.name()}" lacks --data-dir`);
    }
  });

  it('config errors name the key and the expected value', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
    const file = join(dir, 'switchboard.yaml');
    writeFileSync(file, 'gateway:\n  port: "abc"\n  retry: { maxAttempts: 0 }\n  upstreams:\n    - { name: x, kind: grpc, baseUrl: ftp://x }\n  colour: blue\n');
    assert.throws(() => loadConfigFile(file), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const text = err.problems.join('\n');
      assert.match(text, /gateway\.port: must be integer \(got "abc"\)/);
      assert.match(text, /gateway\.retry\.maxAttempts: must be >= 1/);
      assert.match(text, /gateway\.upstreams\.0\.kind: must be one of "openrouter", "openai", "ollama", "anthropic" \(got "grpc"\)/);
      assert.match(text, /gateway\.upstreams\.0\.baseUrl: must match pattern/);
      assert.match(text, /gateway\.colour: unknown key/);
      return true;
    });
  });

  it('nested sections merge over the defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
    const file = join(dir, 'switchboard.yaml');
    writeFileSync(file, 'gateway:\n  port: 9999\n  retry: { maxAttempts: 5 }\n');
    const cfg = loadConfigFile(file);
    assert.equal(cfg.gateway.port, 9999);
    assert.equal(cfg.gateway.retry.maxAttempts, 5);
    assert.equal(cfg.gateway.retry.baseDelayMs, 250);
    assert.equal(cfg.gateway.host, '127.0.0.1');
  });

  it('`config check` exits 2 with one clear message on a bad file, 0 on a good one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
    writeFileSync(join(dir, 'switchboard.yaml'), 'gateway: [not, a, map\n');
    const bad = await cli(['config', 'check', '--data-dir', dir]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /switchboard\.yaml: invalid configuration/);
    assert.doesNotMatch(bad.stderr, /at .*\.ts:\d+/); // no stack trace
    writeFileSync(join(dir, 'switchboard.yaml'), 'gateway:\n  port: 8788\n');
    const good = await cli(['config', 'check', '--data-dir', dir]);
    assert.equal(good.code, 0, good.stderr);
    assert.match(good.stdout, /OK/);
  });

  it('`token` creates a token once in the secret store and prints the same one again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
    const first = await cli(['token', '--data-dir', dir]);
    const second = await cli(['token', '--data-dir', dir]);
    assert.equal(first.code, 0);
    assert.match(first.stdout.trim(), /^sb-local-[\w-]{20,}$/);
    assert.equal(first.stdout, second.stdout);
    assert.equal(existsSync(join(dir, 'gateway-token')), false, 'no 0600 token file any more');
    assert.equal(SecretStore.open({ dataDir: dir }).get('gateway.local-token'), first.stdout.trim());
    assert.ok(!readFileSync(join(dir, 'secrets', 'index.json'), 'utf8').includes(first.stdout.trim()));
  });

  it('a bad flag value is a one-line error, not a crash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
    const r = await cli(['gateway', '--port', 'eighty', '--data-dir', dir]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--port must be an integer 0-65535 \(got "eighty"\)/);
  });
});
