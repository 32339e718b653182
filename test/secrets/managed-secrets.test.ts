/**
 * The secrets Switchboard keeps for itself live in the secret store: an upgrade moves the 0600
 * files of earlier versions in (nothing lost, files gone), no value shows up in logs, errors,
 * process arguments or the environment, and a tenant key rotation reaches a running gateway.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import OpenAI from 'openai';
import { SecretStore, SecretStoreError } from '../../platform/secrets/store.js';
import { loadOrCreateLocalToken } from '../../gateway/local-token.js';
import { TenantKeys } from '../../gateway/guard/pseudonym.js';
import { loadOrCreateVaultKey } from '../../gateway/guard/vault.js';
import { SigningKeys } from '../../controller/auth/signing-keys.js';
import { BundleKeyring } from '../../controller/bundles/keyring.js';
import { readSignIn, storeSignIn, forgetSignIn } from '../../gateway/identity/signin.js';
import { openAiCompletion, startScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway } from '../support/gateway.js';
import { allFileText, tempDirs } from '../support/temp-files.js';

const tempDir = tempDirs('sb-managed-');

async function legacyKeyList(): Promise<{ text: string; kid: string; d: string }> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const jwk = await exportJWK(privateKey);
  const kid = randomUUID();
  return { text: JSON.stringify({ keys: [{ kid, createdAt: new Date().toISOString(), activatesAt: Date.now(), privateJwk: jwk }] }, null, 2), kid, d: jwk.d! };
}

/** A data dir as an earlier version left it: every key in its own 0600 file. */
async function legacyDataDir() {
  const dataDir = tempDir();
  const values = {
    token: `sb-local-${randomBytes(24).toString('base64url')}`,
    master: randomBytes(32).toString('base64'),
    vault: randomBytes(32).toString('base64'),
    access: await legacyKeyList(),
    bundles: await legacyKeyList(),
    session: `sbs_${randomBytes(24).toString('base64url')}`,
  };
  writeFileSync(join(dataDir, 'gateway-token'), `${values.token}\n`, { mode: 0o600 });
  writeFileSync(join(dataDir, 'guard-master.key'), `${values.master}\n`, { mode: 0o600 });
  writeFileSync(join(dataDir, 'guard-vault.key'), `${values.vault}\n`, { mode: 0o600 });
  writeFileSync(join(dataDir, 'controller-keys.json'), values.access.text, { mode: 0o600 });
  writeFileSync(join(dataDir, 'bundle-signing-keys.json'), values.bundles.text, { mode: 0o600 });
  writeFileSync(
    join(dataDir, 'signin.json'),
    JSON.stringify({ controllerUrl: 'http://127.0.0.1:1', subject: 'ana', roles: ['finance'], issuer: 'acme-sso', sessionToken: values.session, sessionExpiresAt: 4102444800 }),
    { mode: 0o600 },
  );
  return { dataDir, values };
}

const LEGACY_FILES = ['gateway-token', 'guard-master.key', 'guard-vault.key', 'controller-keys.json', 'bundle-signing-keys.json'];

describe('upgrade: 0600 key files move into the secret store', () => {
  it('every managed secret keeps its value, its file is removed, and no value stays in clear', async () => {
    const { dataDir, values } = await legacyDataDir();
    const master = Buffer.from(values.master, 'base64');
    const expectedDigest = new TenantKeys(master).pseudonymizer('acme').digest('EMAIL', 'ana@acme.test').toString('hex');

    assert.equal(loadOrCreateLocalToken(dataDir), values.token);
    assert.equal(TenantKeys.fromDataDir(dataDir).pseudonymizer('acme').digest('EMAIL', 'ana@acme.test').toString('hex'), expectedDigest, 'same pseudonyms as before the upgrade');
    assert.equal(loadOrCreateVaultKey(dataDir).toString('base64'), values.vault, 'vault rows stay readable');
    assert.equal((await SigningKeys.loadOrCreate(dataDir)).current().kid, values.access.kid, 'tokens signed before still verify');
    assert.deepEqual((await BundleKeyring.loadOrCreate(dataDir, { bundleTtlMs: 3_600_000 })).jwks().keys.map((k) => k.kid), [values.bundles.kid]);
    assert.equal(readSignIn(dataDir)?.sessionToken, values.session);

    for (const f of LEGACY_FILES) assert.equal(existsSync(join(dataDir, f)), false, `${f} removed`);
    assert.ok(!readFileSync(join(dataDir, 'signin.json'), 'utf8').includes(values.session), 'signin.json keeps no token');
    assert.equal(readSignIn(dataDir)?.sessionToken, values.session, 'read again from the store');
    const text = allFileText(dataDir);
    for (const v of [values.token, values.master, values.vault, values.access.d, values.bundles.d, values.session]) assert.ok(!text.includes(v), 'no value in clear on disk');

    const store = SecretStore.open({ dataDir });
    assert.deepEqual(
      store.list().map((s) => s.name),
      ['gateway.local-token', 'guard.master', 'signin.session-token', 'signing.access-tokens', 'signing.bundles', 'vault.key'],
    );
    const listed = JSON.stringify(store.list());
    for (const v of [values.token, values.master, values.vault, values.session]) assert.ok(!listed.includes(v));

    // A second start finds everything in the store and changes nothing.
    assert.equal(loadOrCreateLocalToken(dataDir), values.token);
    assert.equal((await SigningKeys.loadOrCreate(dataDir)).current().kid, values.access.kid);
  });

  it('a run that stopped between storing and deleting: the file is removed only when it says the same', () => {
    const dataDir = tempDir();
    const store = SecretStore.open({ dataDir });
    store.set('gateway.local-token', 'sb-local-stored-value-0123456789');
    writeFileSync(join(dataDir, 'gateway-token'), 'sb-local-stored-value-0123456789\n', { mode: 0o600 });
    assert.equal(loadOrCreateLocalToken(dataDir, store), 'sb-local-stored-value-0123456789');
    assert.equal(existsSync(join(dataDir, 'gateway-token')), false);
    writeFileSync(join(dataDir, 'gateway-token'), 'sb-local-some-other-value-987654\n', { mode: 0o600 });
    assert.equal(loadOrCreateLocalToken(dataDir, store), 'sb-local-stored-value-0123456789', 'the store wins');
    assert.equal(existsSync(join(dataDir, 'gateway-token')), true, 'a different file is never destroyed');
  });

  it('an empty or damaged legacy file stops the start with a message that names the file, not a value', async () => {
    const dataDir = tempDir();
    writeFileSync(join(dataDir, 'guard-vault.key'), '\n', { mode: 0o600 });
    assert.throws(() => loadOrCreateVaultKey(dataDir), (err: Error) => err instanceof SecretStoreError && /guard-vault\.key is empty/.test(err.message));
    const keys = await legacyKeyList();
    writeFileSync(join(dataDir, 'controller-keys.json'), keys.text.slice(0, -20), { mode: 0o600 });
    await assert.rejects(SigningKeys.loadOrCreate(dataDir), (err: Error) => {
      assert.match(err.message, /controller-keys\.json: unreadable signing keys \(not JSON\)/);
      assert.ok(!err.message.includes(keys.d));
      return true;
    });
    assert.equal(existsSync(join(dataDir, 'controller-keys.json')), true, 'kept for the operator');
  });

  it('keys the store must not replace are refused by rotate, with the reason', () => {
    const store = SecretStore.open({ dataDir: tempDir() });
    assert.throws(() => store.rotate('vault.key'), /cannot be rotated here: every vault row is sealed with it/);
    assert.throws(() => store.rotate('signing.access-tokens'), /rotated by the controller itself/);
    store.rotate('gateway.local-token');
    assert.match(store.get('gateway.local-token')!, /^sb-local-[\w-]{30,}$/, 'a rotated local token keeps its shape');
  });

  it('sign-in: stored in two parts, forgotten in both', () => {
    const dataDir = tempDir();
    storeSignIn(dataDir, 'http://127.0.0.1:1', { access_token: 'a', expires_in: 60, session_token: 'sbs_secret_session_0123456789', session_expires_at: 4102444800, subject: 'ana', roles: ['finance'], issuer: 'acme' });
    assert.ok(!readFileSync(join(dataDir, 'signin.json'), 'utf8').includes('sbs_secret_session_0123456789'));
    assert.equal(readSignIn(dataDir)?.sessionToken, 'sbs_secret_session_0123456789');
    forgetSignIn(dataDir);
    assert.equal(readSignIn(dataDir), undefined);
    assert.equal(SecretStore.open({ dataDir }).get('signin.session-token'), undefined);
  });
});

describe('a running gateway and its managed secrets', () => {
  it('no managed secret in logs, metrics, readiness, error answers, process arguments or environment', async () => {
    const upstream = await startScriptedUpstream();
    const { dataDir, values } = await legacyDataDir();
    rmSync(join(dataDir, 'signin.json'));
    const gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, dataDir, config: { telemetry: { sampleRatio: 1 } } });
    try {
      assert.equal(gw.token, values.token, 'the upgraded gateway keeps its callers');
      const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
      upstream.enqueue({ kind: 'json', body: openAiCompletion({ content: 'ok' }) });
      await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'write to ana@acme.test' }] });
      const wrong = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${values.token}x`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }) });
      assert.equal(wrong.status, 401);
      const texts = [
        await wrong.text(),
        await (await fetch(`${gw.url}/readyz`)).text(),
        await (await fetch(`${gw.url}/metrics`, { headers: { authorization: `Bearer ${gw.token}` } })).text(),
        gw.logs.join('\n'),
        JSON.stringify(process.env),
        process.argv.join(' '),
        readFileSync('/proc/self/cmdline', 'latin1'),
        readFileSync('/proc/self/environ', 'latin1'),
      ];
      const store = SecretStore.open({ dataDir });
      const secretValues = [values.token, values.master, values.vault, store.get('guard.master')!, store.get('vault.key')!, values.access.d];
      for (const [i, text] of texts.entries()) for (const v of secretValues) assert.ok(!text.includes(v), `text ${i} leaks a secret`);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });

  it('`secrets rotate tenant.<id>.pseudonym` takes effect without a restart; both answers re-identify', async () => {
    const upstream = await startScriptedUpstream();
    const dataDir = tempDir();
    const gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, dataDir });
    const EMAIL = 'maria.keller@acme-logistics.de';
    upstream.setDefault((req) => {
      const p = req.raw.match(/EMAIL_[0-9A-F]{8}/)?.[0] ?? 'none';
      return { kind: 'json', body: openAiCompletion({ content: `Writing to ${p} now.` }) };
    });
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
    const ask = async () => {
      const r = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: `Mail ${EMAIL} the report` }] });
      const seen = upstream.received.at(-1)!.raw.match(/EMAIL_[0-9A-F]{8}/)?.[0];
      assert.ok(seen, 'the upstream saw a pseudonym');
      assert.ok(!upstream.received.at(-1)!.raw.includes(EMAIL));
      return { seen, answer: r.choices[0]!.message.content };
    };
    try {
      const before = await ask();
      assert.equal(before.answer, `Writing to ${EMAIL} now.`);
      assert.equal((await ask()).seen, before.seen, 'stable under one key');
      // What `switchboard secrets rotate` does, from another store instance (as another process would).
      const cli = SecretStore.open({ dataDir });
      cli.rotate('tenant.local.pseudonym');
      await new Promise((r) => setTimeout(r, 1100)); // TENANT_KEY_RECHECK_MS
      const v1 = await ask();
      assert.notEqual(v1.seen, before.seen, 'the new key is used without a restart');
      assert.equal(v1.answer, `Writing to ${EMAIL} now.`, 're-identified under the new key');
      cli.rotate('tenant.local.pseudonym');
      await new Promise((r) => setTimeout(r, 1100));
      const v2 = await ask();
      assert.notEqual(v2.seen, v1.seen);
      assert.equal(v2.answer, `Writing to ${EMAIL} now.`);
      // Retired versions stay readable (re-identification of their mappings) until pruned.
      assert.deepEqual(cli.versions('tenant.local.pseudonym').map((v) => [v.version, v.retiredAt !== undefined]), [[1, true], [2, false]]);
      assert.ok(cli.getVersion('tenant.local.pseudonym', 1));
    } finally {
      upstream.setDefault(undefined);
      await gw.close();
      await upstream.close();
    }
  });
});
