/**
 * `switchboard doctor` and `models local list|pull` against a real local org (`up`), a Goose
 * config written by `goose install`, a scripted upstream and a scripted Ollama stand-in.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startUp, type RunningUp } from '../../bin/commands/up.js';
import { runDoctor, formatDoctor, type CheckResult } from '../../bin/commands/doctor.js';
import { loadContext } from '../../bin/cli-support.js';
import { runGateway } from '../../bin/run-gateway.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { cliInProcess } from './cli-in-process.js';
import { startOllamaStandIn, type OllamaStandIn } from './ollama-standin.js';

const byId = (results: CheckResult[]) => Object.fromEntries(results.map((r) => [r.id, r]));

describe('switchboard doctor and models local', () => {
  let upstream: ScriptedUpstream;
  let ollama: OllamaStandIn;
  let up: RunningUp;
  let dataDir: string;
  let gooseDir: string;
  let stateDir: string;
  const env = () => ({ TEST_UPSTREAM_KEY: 'sk-test', OLLAMA_HOST: ollama.host, HOME: stateDir });

  before(async () => {
    upstream = await startScriptedUpstream();
    ollama = await startOllamaStandIn([{ name: 'qwen2.5:0.5b', size: 400_000_000 }]);
    dataDir = mkdtempSync(join(tmpdir(), 'sb-doctor-'));
    gooseDir = mkdtempSync(join(tmpdir(), 'sb-doctor-goose-'));
    stateDir = mkdtempSync(join(tmpdir(), 'sb-doctor-state-'));
    writeFileSync(join(dataDir, 'switchboard.yaml'), `gateway:\n  upstreams:\n    - { name: primary, kind: openrouter, baseUrl: "${upstream.baseUrl}", apiKeyEnv: TEST_UPSTREAM_KEY }\n`);
    up = await startUp({ dataDir, port: '0', controllerPort: '0', role: 'marketing', logLevel: 'silent' });
  });
  after(async () => {
    await up.stop();
    await upstream.close();
    await ollama.close();
    for (const d of [dataDir, gooseDir, stateDir]) rmSync(d, { recursive: true, force: true });
  });

  const doctor = (over: Partial<Parameters<typeof runDoctor>[0]> = {}) =>
    runDoctor({
      dataDir,
      config: loadContext({ dataDir }).config,
      env: env(),
      gatewayUrl: up.gateway.url,
      controllerUrl: up.controllerUrl!,
      gooseConfigDir: gooseDir,
      gooseStateDirs: [stateDir],
      timeoutMs: 5000,
      ...over,
    });

  it('before goose install: Goose checks fail with the install command as the fix; missing fallback model is a warning', async () => {
    const r = byId(await doctor());
    for (const id of ['node', 'data-dir', 'gateway', 'controller', 'bundle', 'upstream-key', 'upstream']) assert.equal(r[id]?.status, 'pass', `${id}: ${r[id]?.message}`);
    assert.match(r.bundle!.message, /signature valid/);
    assert.equal(r['goose-provider']!.status, 'fail');
    assert.equal(r['goose-provider']!.fix, 'switchboard goose install --role marketing');
    assert.equal(r.allowlist!.status, 'fail');
    assert.equal(r.ollama!.status, 'warn');
    assert.match(r.ollama!.message, /fallback model llama3\.2:3b is missing/);
    assert.equal(r.ollama!.fix, 'switchboard models local pull');
    assert.equal(r['goose-local-copies']!.status, 'warn');
    assert.equal(r['goose-bypasses']!.status, 'warn');
  });

  it('models local pull shows progress and list then shows the fallback model; doctor turns green', async () => {
    const pulled = await cliInProcess(['models', 'local', 'pull', '--data-dir', dataDir], env());
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.deepEqual(ollama.pulls, ['llama3.2:3b']);
    assert.match(pulled.stderr, /pulling 6a0746a1ec1a 50%/);
    assert.match(pulled.stderr, /pulling 6a0746a1ec1a 100%/);
    const listed = await cliInProcess(['models', 'local', 'list', '--data-dir', dataDir], env());
    assert.match(listed.stdout, /llama3\.2:3b\s+2\.00 GB\s+\(fallback\)/);
    assert.match(listed.stdout, /qwen2\.5:0\.5b/);
    const bad = await cliInProcess(['models', 'local', 'pull', '--model', 'missing-model', '--data-dir', dataDir], env());
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /pull(ing)? missing-model failed|cannot pull missing-model/);

    const installed = await cliInProcess(['goose', 'install', '--role', 'marketing', '--data-dir', dataDir, '--goose-config-dir', gooseDir, '--gateway-url', up.gateway.url, '--controller-url', up.controllerUrl!], env());
    assert.equal(installed.code, 0, installed.stderr);
    const results = await doctor();
    const r = byId(results);
    assert.ok(results.every((c) => c.status !== 'fail'), formatDoctor(results));
    assert.equal(r['goose-provider']!.status, 'pass');
    assert.equal(r.ollama!.status, 'pass');
    assert.equal(r.allowlist!.status, 'warn', 'http allowlist: Goose desktop wants HTTPS');
    assert.match(r.allowlist!.fix!, /TLS/);
  });

  it('names the bypasses it finds and fails on loose permissions, an unreachable gateway and a missing key', async () => {
    const r = byId(await doctor({ env: { ...env(), GOOSE_TOOLSHIM: 'true', GOOSE_PLANNER_PROVIDER: 'openai', TEST_UPSTREAM_KEY: '' }, gatewayUrl: 'http://127.0.0.1:9' }));
    assert.match(r['goose-bypasses']!.message, /the planner \(GOOSE_PLANNER_PROVIDER\), the tool shim/);
    assert.equal(r.gateway!.status, 'fail');
    assert.match(r.gateway!.fix!, /switchboard up/);
    assert.equal(r['upstream-key']!.message, 'local upstream: no key needed');
    // A remote-looking upstream (127.0.0.2 is loopback, so nothing leaves the machine) without its key.
    const remote = loadContext({ dataDir }).config;
    remote.gateway.upstreams = [{ name: 'cloud', kind: 'openrouter', baseUrl: 'http://127.0.0.2:9/v1', apiKeyEnv: 'TEST_UPSTREAM_KEY' }];
    const k = byId(await doctor({ config: remote, env: { ...env(), TEST_UPSTREAM_KEY: '' } }));
    assert.equal(k['upstream-key']!.status, 'fail', 'the running gateway sends calls there without a key');
    assert.match(k['upstream-key']!.fix!, /export TEST_UPSTREAM_KEY=/);
    assert.equal(k.upstream!.status, 'warn', 'nothing is sent there without a key: unreachable is not what breaks');
    const keyed = byId(await doctor({ config: remote }));
    assert.equal(keyed['upstream-key']!.status, 'pass');
    assert.equal(keyed.upstream!.status, 'fail', 'with a key, an unreachable upstream breaks every call');
    assert.match(keyed.upstream!.fix!, /HTTPS_PROXY/);
    const down = byId(await doctor({ config: remote, env: { ...env(), TEST_UPSTREAM_KEY: '' }, gatewayUrl: 'http://127.0.0.1:9' }));
    assert.equal(down['upstream-key']!.status, 'warn', 'no gateway runs: `up` will use the demo upstream');
    assert.match(down['upstream-key']!.message, /switchboard up` will answer with the offline demo upstream/);
    // Ollama as the upstream: no key needed; when it is not running, that breaks the path.
    const local = loadContext({ dataDir }).config;
    local.gateway.upstreams = [{ name: 'ollama', kind: 'ollama', baseUrl: 'http://127.0.0.1:9/v1' }];
    const o = byId(await doctor({ config: local, env: { ...env(), TEST_UPSTREAM_KEY: '' } }));
    assert.equal(o['upstream-key']!.status, 'pass');
    assert.equal(o.upstream!.status, 'fail');
    assert.match(o.upstream!.fix!, /ollama serve/);
    local.gateway.upstreams = [{ name: 'ollama', kind: 'ollama', baseUrl: `${ollama.host}/v1` }];
    assert.equal(byId(await doctor({ config: local })).upstream!.status, 'pass');
    chmodSync(dataDir, 0o755);
    try {
      const loose = byId(await doctor());
      assert.equal(loose['data-dir']!.status, 'fail');
      assert.equal(loose['data-dir']!.fix, `chmod 700 ${dataDir}`);
    } finally {
      chmodSync(dataDir, 0o700);
    }
    assert.equal(byId(await doctor({ nodeVersion: 'v18.19.0' })).node!.status, 'fail');
  });

  it('--json prints the same checks and exits 1 when one fails', async () => {
    const res = await cliInProcess(['doctor', '--json', '--data-dir', dataDir, '--gateway-url', 'http://127.0.0.1:9', '--controller-url', up.controllerUrl!, '--goose-config-dir', gooseDir], env());
    const parsed = JSON.parse(res.stdout) as { ok: boolean; checks: CheckResult[] };
    assert.equal(parsed.ok, false);
    assert.equal(process.exitCode, 1);
    process.exitCode = 0;
    assert.equal(byId(parsed.checks).gateway!.status, 'fail');
    assert.ok(parsed.checks.filter((c) => c.status === 'fail').every((c) => typeof c.fix === 'string' && c.fix.length > 0));
  });

  it('no cloud key on a fresh machine: `up` answers from the demo upstream, so the key is a warning with the fix, not a failure', async () => {
    const fresh = mkdtempSync(join(tmpdir(), 'sb-doctor-fresh-'));
    const saved = { OPENROUTER_API_KEY: process.env.OPENROUTER_API_KEY, SWITCHBOARD_UPSTREAM_KEY: process.env.SWITCHBOARD_UPSTREAM_KEY };
    delete process.env.OPENROUTER_API_KEY;
    delete process.env.SWITCHBOARD_UPSTREAM_KEY;
    let demoUp: RunningUp | undefined;
    try {
      demoUp = await startUp({ dataDir: fresh, port: '0', controllerPort: '0', logLevel: 'silent' });
      assert.equal(demoUp.gateway.demo, true);
      const results = await runDoctor({
        dataDir: fresh,
        config: loadContext({ dataDir: fresh }).config,
        env: { OLLAMA_HOST: ollama.host, HOME: stateDir },
        gatewayUrl: demoUp.gateway.url,
        controllerUrl: demoUp.controllerUrl!,
        gooseConfigDir: gooseDir,
        gooseStateDirs: [stateDir],
        timeoutMs: 5000,
      });
      const r = byId(results);
      assert.equal(r['upstream-key']!.status, 'warn', r['upstream-key']!.message);
      assert.match(r['upstream-key']!.message, /offline demo upstream, a stand-in for openrouter/);
      assert.equal(r['upstream-key']!.fix, 'export OPENROUTER_API_KEY=<your key>, then restart `switchboard up` to use real models');
      assert.equal(r.upstream!.status, 'pass', 'openrouter.ai is not contacted: the demo upstream is what answers');
      for (const id of ['node', 'data-dir', 'gateway', 'controller', 'bundle']) assert.equal(r[id]?.status, 'pass', `${id}: ${r[id]?.message}`);
      for (const c of results) if (c.status !== 'pass') assert.ok(c.fix && c.fix.length > 0, `${c.id} says how to fix it`);
    } finally {
      await demoUp?.stop();
      Object.assign(process.env, Object.fromEntries(Object.entries(saved).filter(([, v]) => v !== undefined)));
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  it('a gateway that runs but refuses model calls (no policy bundle from its controller) fails the gateway check with the reason', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-doctor-nobundle-'));
    writeFileSync(join(dir, 'switchboard.yaml'), `controller:\n  url: http://127.0.0.1:9\n  tokenEnv: SB_TEST_CONTROLLER_TOKEN\ngateway:\n  upstreams:\n    - { name: primary, kind: openrouter, baseUrl: "${upstream.baseUrl}", apiKeyEnv: TEST_UPSTREAM_KEY }\n`);
    process.env.SB_TEST_CONTROLLER_TOKEN = 'not-used';
    const gw = await runGateway({ dataDir: dir, port: '0', logLevel: 'silent' }, { demoWhenNoKey: false });
    try {
      const r = byId(await runDoctor({ dataDir: dir, config: loadContext({ dataDir: dir }).config, env: env(), gatewayUrl: gw.url, controllerUrl: 'http://127.0.0.1:9', gooseConfigDir: gooseDir, gooseStateDirs: [stateDir], timeoutMs: 5000 }));
      assert.equal(r.gateway!.status, 'fail');
      assert.match(r.gateway!.message, /runs but refuses model calls: no valid policy bundle for role \S+ \(none\)/);
      assert.match(r.gateway!.fix!, /controller is reachable/);
    } finally {
      await gw.stop();
      delete process.env.SB_TEST_CONTROLLER_TOKEN;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
