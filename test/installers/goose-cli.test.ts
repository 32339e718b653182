/**
 * The CLI end to end (in-process, so the suite stays fast): `switchboard goose setup` writes a
 * provider file that really works against a running gateway (requests made the way Goose derives
 * them from base_url + headers), dry runs write nothing, bad flags are clear CliErrors, and
 * `service install` writes only with --write.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import type { GooseProviderFile } from '../../installers/goose/provider-file.js';
import { cliInProcess } from './cli-in-process.js';

const cli = cliInProcess;

describe('switchboard goose setup against a running gateway', () => {
  let upstream: ScriptedUpstream;
  let gateway: TestGateway;
  let dataDir: string;
  let gooseDir: string;

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sb-goose-cli-data-'));
    gooseDir = mkdtempSync(join(tmpdir(), 'sb-goose-cli-cfg-'));
    upstream = await startScriptedUpstream();
    gateway = await startTestGateway({ upstreamUrl: upstream.baseUrl, dataDir });
  });
  after(async () => {
    await gateway.close();
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(gooseDir, { recursive: true, force: true });
  });

  it('--dry-run prints the plan with the token redacted and writes nothing', async () => {
    const r = await cli(['goose', 'setup', '--data-dir', dataDir, '--goose-config-dir', gooseDir, '--gateway-url', gateway.url, '--dry-run']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /create\s+custom_providers\/switchboard\.json/);
    assert.match(r.stdout, /Dry run: nothing was written/);
    assert.ok(!r.stdout.includes(gateway.token), 'token must not be printed');
    assert.deepEqual(readdirSync(gooseDir), []);
  });

  it('writes a provider Goose can use: chat (stream and not) and the model list go through the gateway', async () => {
    const r = await cli(['goose', 'setup', '--data-dir', dataDir, '--goose-config-dir', gooseDir, '--gateway-url', gateway.url, '--model', 'openai/gpt-5.1']);
    assert.equal(r.code, 0, r.stderr);
    const provider = JSON.parse(readFileSync(join(gooseDir, 'custom_providers', 'switchboard.json'), 'utf8')) as GooseProviderFile;
    const written = parseYaml(readFileSync(join(gooseDir, 'config.yaml'), 'utf8')) as Record<string, unknown>;
    assert.equal(written.GOOSE_PROVIDER, 'switchboard');
    assert.equal(written.GOOSE_MODEL, 'openai/gpt-5.1');
    assert.deepEqual(Object.keys(written.extensions as object).sort(), ['agent_mesh', 'privacy_guard']);

    // Goose's openai engine: base_url ending in v1 → POST <base_url>/chat/completions, GET <base_url>/models.
    const headers = { ...provider.headers, 'content-type': 'application/json', 'agent-session-id': '20260101_1' };
    const chat = await fetch(`${provider.base_url}/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'openai/gpt-5.1', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(chat.status, 200);
    const answer = (await chat.json()) as { choices: Array<{ message: { content: string } }> };
    assert.equal(answer.choices[0]!.message.content, 'Hello from upstream');
    const received = upstream.received.at(-1)!;
    assert.equal(received.path, '/v1/chat/completions', 'the /goose/v1 prefix maps onto the upstream chat endpoint');
    assert.equal(received.headers.authorization, 'Bearer sk-upstream-test', 'the local token is replaced by the upstream key');

    const stream = await fetch(`${provider.base_url}/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: 'openai/gpt-5.1', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } }),
    });
    assert.equal(stream.status, 200);
    assert.match(await stream.text(), /data: \[DONE\]/);

    const models = await fetch(`${provider.base_url}/models`, { headers: provider.headers });
    assert.equal(models.status, 200);
    const list = (await models.json()) as { data: Array<{ id: string }> };
    assert.ok(list.data.length > 0 && list.data.every((m) => typeof m.id === 'string'));

    // Without the header from the provider file the gateway refuses.
    const anonymous = await fetch(`${provider.base_url}/models`);
    assert.equal(anonymous.status, 401);
  });

  it('a second run reports everything unchanged', async () => {
    const r = await cli(['goose', 'setup', '--data-dir', dataDir, '--goose-config-dir', gooseDir, '--gateway-url', gateway.url, '--model', 'openai/gpt-5.1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /unchanged\s+custom_providers\/switchboard\.json/);
    assert.match(r.stdout, /unchanged\s+config\.yaml/);
  });
});

describe('switchboard goose/service CLI errors and service files', () => {
  it('bad flags are one-line errors with exit code 2', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sb-goose-cli-'));
    try {
      const url = await cli(['goose', 'setup', '--data-dir', dataDir, '--goose-config-dir', dataDir, '--gateway-url', 'ftp://example']);
      assert.equal(url.code, 2);
      assert.equal(url.stderr.trim(), 'switchboard: --gateway-url must be an http(s) URL (got "ftp://example")');
      const model = await cli(['goose', 'env', '--data-dir', dataDir, '--provider', 'anthropic']);
      assert.equal(model.code, 2);
      assert.match(model.stderr, /^switchboard: --provider must be "openai" or "openrouter" \(got "anthropic"\)\n$/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('service install prints by default and writes only with --write (under HOME, never calling systemctl)', async () => {
    const home = mkdtempSync(join(tmpdir(), 'sb-service-home-'));
    const env = { HOME: home, XDG_CONFIG_HOME: join(home, '.config') };
    const unitPath = join(home, '.config', 'systemd', 'user', 'switchboard-gateway.service');
    try {
      // In-process, argv[1] is this test file, so name the executable the service should run.
      const exec = ['--exec', 'bin/switchboard.ts'];
      const printed = await cli(['service', 'install', '--manager', 'systemd', ...exec, '--data-dir', join(home, 'data')], env);
      assert.equal(printed.code, 0, printed.stderr);
      assert.match(printed.stdout, /^ExecStart=\/\S+\/bin\/switchboard\.ts gateway --data-dir \/\S+\/data$/m);
      assert.equal(existsSync(unitPath), false);

      const written = await cli(['service', 'install', '--manager', 'systemd', ...exec, '--write', '--data-dir', join(home, 'data')], env);
      assert.equal(written.code, 0, written.stderr);
      assert.equal(readFileSync(unitPath, 'utf8'), printed.stdout);
      assert.match(written.stderr, /systemctl --user enable --now switchboard-gateway\.service/);
      const missing = await cli(['service', 'install', '--exec', join(home, 'nope'), '--data-dir', join(home, 'data')], env);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /--exec: no such file/);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});
