import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SecretStore, SecretStoreError } from '../../platform/secrets/store.js';
import { TenantKeys } from '../../gateway/guard/pseudonym.js';
import { startScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway } from '../support/gateway.js';
import { allFileText, tempDirs } from '../support/temp-files.js';

const tempDir = tempDirs('sb-secrets-');

const SECRET = 'sk-or-v1-THIS-IS-THE-SECRET-0123456789abcdef';

describe('secret store', () => {
  it('falls back to the encrypted file automatically when no keychain service answers, and says why', () => {
    const store = SecretStore.open({ dataDir: tempDir(), env: {} });
    assert.ok(['keychain', 'encrypted-file'].includes(store.backendKind));
    if (store.backendKind === 'encrypted-file') assert.ok(store.fallbackReason && store.fallbackReason.length > 0);
  });

  it('encrypted file: values sealed (0600), nothing in clear, names and ages only in the index', () => {
    const dataDir = tempDir();
    const store = SecretStore.open({ dataDir, backend: 'file', env: {} });
    store.set('upstream.openrouter', SECRET);
    assert.equal(store.get('upstream.openrouter'), SECRET);
    assert.equal(SecretStore.open({ dataDir, backend: 'file', env: {} }).get('upstream.openrouter'), SECRET, 'readable after reopening');
    for (const f of ['secrets.enc', 'index.json', 'machine.key']) assert.equal(statSync(join(dataDir, 'secrets', f)).mode & 0o777, 0o600, f);
    assert.ok(!allFileText(dataDir).includes(SECRET));
    assert.ok(!allFileText(dataDir).includes(Buffer.from(SECRET).toString('base64')));
    const listed = JSON.stringify(store.list());
    assert.match(listed, /upstream\.openrouter/);
    assert.ok(!listed.includes(SECRET));
  });

  it('a passphrase-sealed file needs the right passphrase; errors never carry values', () => {
    const dataDir = tempDir();
    SecretStore.open({ dataDir, backend: 'file', passphrase: 'correct horse', env: {} }).set('vault.key', SECRET);
    assert.throws(() => SecretStore.open({ dataDir, backend: 'file', passphrase: 'wrong', env: {} }).get('vault.key'), (err: Error) => {
      assert.ok(err instanceof SecretStoreError);
      assert.match(err.message, /wrong secrets passphrase/);
      assert.ok(!err.message.includes(SECRET) && !err.message.includes('correct horse'));
      return true;
    });
    assert.throws(() => SecretStore.open({ dataDir, backend: 'file', env: {} }).get('vault.key'), /set SWITCHBOARD_SECRETS_PASSPHRASE/);
    assert.equal(SecretStore.open({ dataDir, backend: 'file', env: { SWITCHBOARD_SECRETS_PASSPHRASE: 'correct horse' } }).get('vault.key'), SECRET);
  });

  it('a sealed value moved to another name does not open', () => {
    const dataDir = tempDir();
    const store = SecretStore.open({ dataDir, backend: 'file', env: {} });
    store.set('upstream.a', 'value-a');
    store.set('upstream.b', 'value-b');
    const path = join(dataDir, 'secrets', 'secrets.enc');
    const content = JSON.parse(readFileSync(path, 'utf8')) as { entries: Record<string, unknown> };
    content.entries['upstream.b'] = content.entries['upstream.a'];
    writeFileSync(path, JSON.stringify(content));
    assert.throws(() => SecretStore.open({ dataDir, backend: 'file', env: {} }).get('upstream.b'), /cannot be decrypted/);
  });

  it('tenant pseudonymisation keys are versioned: rotation keeps old versions until pruned; BYOK import', () => {
    const store = SecretStore.open({ dataDir: tempDir(), backend: 'file', env: {} });
    store.rotate('tenant.acme.pseudonym');
    const v1 = store.get('tenant.acme.pseudonym')!;
    assert.ok(v1.length >= 43);
    store.rotate('tenant.acme.pseudonym');
    const own = 'a'.repeat(64); // 32 bytes as hex
    assert.equal(store.importTenantKey('acme', own).version, 3);
    assert.equal(store.get('tenant.acme.pseudonym'), own);
    assert.equal(store.getVersion('tenant.acme.pseudonym', 1), v1, 'old mappings still re-identify');
    assert.deepEqual(store.versions('tenant.acme.pseudonym').map((v) => [v.version, v.source, v.retiredAt !== undefined]), [
      [1, 'generated', true],
      [2, 'generated', true],
      [3, 'imported', false],
    ]);
    assert.throws(() => store.importTenantKey('acme', 'too-short'), /at least 32 bytes/);
    assert.equal(store.pruneRetired(Date.now() + 1), 2);
    assert.equal(store.getVersion('tenant.acme.pseudonym', 1), undefined);
    assert.equal(store.get('tenant.acme.pseudonym'), own);
    assert.throws(() => store.rotate('upstream.openrouter'), /not a key Switchboard generates/);
  });
});

describe('tenant keys from the store drive the Privacy Guard', () => {
  it('a rotated or imported tenant key changes that tenant\'s pseudonyms, and only that tenant\'s', () => {
    const dataDir = tempDir();
    const store = SecretStore.open({ dataDir, backend: 'file', env: {} });
    const master = Buffer.alloc(32, 7);
    const lookup = (t: string) => store.get(`tenant.${t}.pseudonym`);
    const digest = (keys: TenantKeys, tenant: string) => keys.pseudonymizer(tenant).digest('EMAIL', 'ana@acme.test').toString('hex');
    const before = { acme: digest(new TenantKeys(master, lookup), 'acme'), other: digest(new TenantKeys(master, lookup), 'other') };
    store.importTenantKey('acme', 'b'.repeat(64));
    const afterImport = new TenantKeys(master, lookup);
    assert.notEqual(digest(afterImport, 'acme'), before.acme);
    assert.equal(digest(afterImport, 'other'), before.other);
    assert.equal(digest(new TenantKeys(master, lookup), 'acme'), digest(afterImport, 'acme'), 'deterministic for one key version');
    store.rotate('tenant.acme.pseudonym');
    assert.notEqual(digest(new TenantKeys(master, lookup), 'acme'), digest(afterImport, 'acme'));
  });
});

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/switchboard.ts', ...args], {
      env: { ...process.env, SWITCHBOARD_SECRETS_BACKEND: 'file', ...opts.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.stdin ?? '');
  });
}

describe('switchboard secrets (CLI)', () => {
  it('set reads stdin or --from-env; list shows names and ages; the value never reaches output', async () => {
    const dataDir = tempDir();
    const set = await cli(['secrets', 'set', 'upstream.openrouter', '--data-dir', dataDir], { stdin: `${SECRET}\n` });
    assert.equal(set.code, 0, set.stderr);
    const fromEnv = await cli(['secrets', 'set', 'upstream.backup', '--from-env', 'MY_KEY', '--data-dir', dataDir], { env: { MY_KEY: `${SECRET}-2` } });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    const list = await cli(['secrets', 'list', '--data-dir', dataDir]);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /upstream\.openrouter\tupdated \d+s ago/);
    assert.match(list.stdout, /upstream\.backup/);
    for (const r of [set, fromEnv, list]) assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET));
    assert.ok(!allFileText(dataDir).includes(SECRET));
    const get = await cli(['secrets', 'get', 'upstream.openrouter', '--data-dir', dataDir]);
    assert.equal(get.stdout, `${SECRET}\n`, 'get is the one deliberate way out');
  });

  it('refuses a value on the command line without echoing it', async () => {
    const dataDir = tempDir();
    const r = await cli(['secrets', 'set', 'upstream.openrouter', SECRET, '--data-dir', dataDir]);
    assert.notEqual(r.code, 0);
    assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET), r.stderr);
    const bad = await cli(['secrets', 'set', 'Bad Name!', '--data-dir', dataDir], { stdin: SECRET });
    assert.notEqual(bad.code, 0);
    assert.ok(!bad.stderr.includes(SECRET));
  });
});

describe('gateway with an upstream key from the secret store', () => {
  it('uses the stored key upstream; it appears in no log, no readiness answer and not in process.env', async () => {
    const upstream = await startScriptedUpstream();
    const dataDir = tempDir();
    SecretStore.open({ dataDir, backend: 'file', env: {} }).set('upstream.primary', SECRET);
    const gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, dataDir, env: { TEST_UPSTREAM_KEY: '' }, config: { telemetry: { sampleRatio: 1 } } });
    try {
      const res = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
      assert.equal(upstream.received.at(-1)!.headers['authorization'], `Bearer ${SECRET}`);
      const ready = await (await fetch(`${gw.url}/readyz`)).text();
      const metrics = await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${gw.token}` } })).text();
      await gw.server.services.tracing!.forceFlush();
      for (const text of [ready, metrics, gw.logs.join('\n'), JSON.stringify(process.env), readFileSync(join(dataDir, 'traces', 'gateway.jsonl'), 'utf8')]) {
        assert.ok(!text.includes(SECRET));
      }
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
