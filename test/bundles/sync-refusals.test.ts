import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { SignJWT } from 'jose';
import { BundleKeyring } from '../../controller/bundles/keyring.js';
import { signBundle } from '../../controller/bundles/sign.js';
import { BundleSync } from '../../gateway/bundles/sync.js';
import { bundleBodyFor, validateBundleBody } from '../../policies/bundle/body.js';
import { bundleEtag, keySetProofPayload } from '../../policies/bundle/format.js';
import { BundlePolicySource } from '../../gateway/bundles/policy-source.js';
import { ProfileCatalog } from '../../controller/profiles/catalog.js';

const HOUR = 3_600_000;

/** A stand-in controller serving whatever bundle text the test sets, with ETags. */
async function fakeController(keyring: BundleKeyring) {
  let bundleText = '';
  let requests = 0;
  let keys: () => Promise<unknown> = () => keyring.signedJwks();
  const server: Server = createServer((req, res) => {
    requests++;
    if (req.url === '/api/v1/bundle-keys') {
      void keys().then((k) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(k)));
      return;
    }
    if (req.url === '/api/v1/bundles/finance') {
      const etag = bundleEtag(bundleText);
      if (req.headers['if-none-match'] === etag) {
        res.writeHead(304, { etag }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/jose', etag }).end(bundleText);
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    serve(text: string) {
      bundleText = text;
    },
    serveKeys(fn: () => Promise<unknown>) {
      keys = fn;
    },
    requests: () => requests,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

test('sync refuses unsigned, tampered, expired, wrong-role, invalid and unknown-key bundles and keeps the last good one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-sync-'));
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write(c: Buffer, _e, cb) { logs.push(c.toString()); cb(); } }));
  const keyring = await BundleKeyring.loadOrCreate(join(dir), { bundleTtlMs: 24 * HOUR });
  const profiles = ProfileCatalog.load([ProfileCatalog.defaultDirs(dir)[0]!]);
  const finance = profiles.get('finance')!;
  const body = bundleBodyFor(finance) as unknown as Record<string, unknown>;
  const ctl = await fakeController(keyring);
  const sync = new BundleSync({ controllerUrl: ctl.url, role: 'finance', token: () => 't', dir: join(dir, 'bundles'), pollIntervalMs: 60_000, validate: validateBundleBody, log });
  try {
    const good = await signBundle(keyring, 'finance', body, 24 * HOUR);
    ctl.serve(good.jws);
    await sync.start();
    assert.equal(sync.current()?.version, good.version);
    const policy = new BundlePolicySource(() => sync.current(), 'finance', { expiryGraceMs: 3_600_000, log }).policyFor('finance')!;
    assert.deepEqual(policy.guard, finance.guard, 'guard modes reach ctx.policy');
    assert.deepEqual(policy.budgets, finance.budgets, 'budgets reach ctx.policy');
    assert.deepEqual(policy.downshift, finance.downshift, 'downshift rules reach ctx.policy');
    assert.equal(new BundlePolicySource(() => sync.current(), 'finance', { expiryGraceMs: 3_600_000, log }).policyFor('marketing'), undefined);

    const [h, p, sig] = good.jws.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as { bundle: { profile: { budgets: { monthlyUsd: number } } } };
    claims.bundle.profile.budgets.monthlyUsd = 1_000_000;
    const tampered = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
    const expired = await signBundle(keyring, 'finance', body, 1000, Date.now() - 2 * HOUR);
    const marketing = await signBundle(keyring, 'marketing', bundleBodyFor(profiles.get('marketing')!) as unknown as Record<string, unknown>, HOUR);
    const invalid = await signBundle(keyring, 'finance', { format: 1, role: 'finance', profile: { role: 'finance' } }, HOUR);
    const { privateKey } = await (await BundleKeyring.loadOrCreate(mkdtempSync(join(dir, 'other-')), { bundleTtlMs: HOUR })).signingKey();
    const foreign = await new SignJWT({ role: 'finance', ver: 'x', bundle: body })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'attacker-key', typ: 'sb-bundle+jwt' })
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey);

    const cases: Array<[string, string, string]> = [
      ['unsigned', JSON.stringify(claims), 'refused bundle (unsigned)'],
      ['tampered', tampered, 'refused bundle (bad-signature)'],
      ['expired', expired.jws, 'refused bundle (expired)'],
      ['wrong role', marketing.jws, 'refused bundle (wrong-role)'],
      ['schema', invalid.jws, 'refused bundle (schema)'],
      ['unknown key', foreign, 'refused bundle (unknown-key)'],
    ];
    for (const [name, text, line] of cases) {
      ctl.serve(text);
      assert.equal(await sync.syncNow(), 'refused', name);
      assert.ok(logs.some((l) => l.includes(line) && l.includes('keeping the last good bundle')), `clear log line for ${name}`);
      assert.equal(sync.current()?.jws, good.jws, `still serving the last good bundle after ${name}`);
      assert.equal(readFileSync(join(dir, 'bundles', 'finance.jws'), 'utf8'), good.jws, `disk copy untouched after ${name}`);
    }

    // A newer good bundle is accepted; then an older (replayed) one is refused as rollback.
    ctl.serve(good.jws);
    assert.equal(await sync.syncNow(), 'unchanged');
    const newer = await signBundle(keyring, 'finance', { ...body, role: 'finance' }, 24 * HOUR, Date.now() + 5000);
    ctl.serve(newer.jws);
    assert.equal(await sync.syncNow(), 'updated');
    ctl.serve(good.jws);
    assert.equal(await sync.syncNow(), 'refused');
    assert.ok(logs.some((l) => l.includes('refused bundle (rollback)')));

    // A bundle edited on disk is refused at the next start (and the controller's copy is fetched).
    await sync.stop();
    writeFileSync(join(dir, 'bundles', 'finance.jws'), tampered);
    ctl.serve(newer.jws);
    const restarted = new BundleSync({ controllerUrl: ctl.url, role: 'finance', token: () => 't', dir: join(dir, 'bundles'), pollIntervalMs: 60_000, validate: validateBundleBody, log });
    await restarted.start();
    assert.ok(logs.some((l) => l.includes('stored bundle refused')));
    assert.equal(restarted.current()?.jws, newer.jws);
    await restarted.stop();
  } finally {
    await sync.stop();
    await ctl.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('key rotation end to end: the gateway follows the controller to a new key without a gap', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-sync-'));
  const clock = { now: Date.now() };
  const log = pino({ level: 'silent' });
  const keyring = await BundleKeyring.loadOrCreate(dir, { bundleTtlMs: 24 * HOUR, publishLeadMs: 20_000, now: () => clock.now });
  const profiles = ProfileCatalog.load([ProfileCatalog.defaultDirs(dir)[0]!]);
  const body = bundleBodyFor(profiles.get('finance')!) as unknown as Record<string, unknown>;
  const ctl = await fakeController(keyring);
  const sync = new BundleSync({ controllerUrl: ctl.url, role: 'finance', token: () => 't', dir: join(dir, 'bundles'), pollIntervalMs: 60_000, validate: validateBundleBody, log });
  try {
    const first = await signBundle(keyring, 'finance', body, 24 * HOUR, clock.now);
    ctl.serve(first.jws);
    await sync.start();
    const nextKid = await keyring.rotate();
    // Before activation the old key still signs; the gateway's view is unchanged.
    ctl.serve((await signBundle(keyring, 'finance', body, 24 * HOUR, clock.now)).jws);
    assert.notEqual(await sync.syncNow(), 'refused');
    clock.now += 21_000;
    const second = await signBundle(keyring, 'finance', body, 24 * HOUR, clock.now);
    assert.equal(second.kid, nextKid);
    ctl.serve(second.jws);
    assert.equal(await sync.syncNow(), 'updated', 'bundle signed by the new key is accepted (JWKS refetched on unknown kid)');
    assert.equal(sync.current()?.kid, nextKid);
  } finally {
    await sync.stop();
    await ctl.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a key the controller lists without a signature by a trusted key is not trusted; removals are honoured', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-sync-'));
  const logs: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write(c: Buffer, _e, cb) { logs.push(c.toString()); cb(); } }));
  const keyring = await BundleKeyring.loadOrCreate(dir, { bundleTtlMs: 24 * HOUR });
  const attacker = await BundleKeyring.loadOrCreate(mkdtempSync(join(tmpdir(), 'sb-evil-')), { bundleTtlMs: 24 * HOUR });
  const profiles = ProfileCatalog.load([ProfileCatalog.defaultDirs(dir)[0]!]);
  const body = bundleBodyFor(profiles.get('finance')!) as unknown as Record<string, unknown>;
  const ctl = await fakeController(keyring);
  const sync = new BundleSync({ controllerUrl: ctl.url, role: 'finance', token: () => 't', dir: join(dir, 'bundles'), pollIntervalMs: 60_000, validate: validateBundleBody, log });
  try {
    ctl.serve((await signBundle(keyring, 'finance', body, 24 * HOUR)).jws);
    await sync.start();
    const genuine = sync.current()!.kid;
    // Someone between gateway and controller adds their own key, with a proof only that key signed.
    ctl.serveKeys(async () => {
      const real = keyring.jwks();
      const evil = await attacker.signedJwks();
      const keys = [...real.keys, ...evil.keys];
      const { GeneralSign } = await import('jose');
      const signer = new GeneralSign(keySetProofPayload({ keys }));
      const { kid, privateKey } = await attacker.signingKey();
      signer.addSignature(privateKey).setProtectedHeader({ alg: 'EdDSA', kid });
      return { keys, proof: await signer.sign() };
    });
    ctl.serve((await signBundle(attacker, 'finance', { ...body, role: 'finance' }, 24 * HOUR)).jws);
    assert.equal(await sync.syncNow(), 'refused');
    assert.equal(sync.current()?.kid, genuine, 'the bundle signed by the added key was refused');
    assert.ok(logs.some((l) => l.includes('that no trusted key signed; not trusting them')));
    const stored = JSON.parse(readFileSync(join(dir, 'bundles', 'bundle-keys.json'), 'utf8')) as { keys: Array<{ kid: string }> };
    assert.deepEqual(stored.keys.map((k) => k.kid), [genuine]);

    // The controller drops every key (no proof at all): removals are honoured, the bundle is dropped.
    ctl.serveKeys(async () => ({ keys: [] }));
    ctl.serve('');
    await sync.refreshKeys();
    assert.equal(sync.current(), undefined);
    assert.ok(logs.some((l) => l.includes('no longer publishes the key that signed the bundle in force')));
  } finally {
    await sync.stop();
    await ctl.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
