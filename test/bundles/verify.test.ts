import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BundleKeyring } from '../../controller/bundles/keyring.js';
import { signBundle } from '../../controller/bundles/sign.js';
import { BundleRejectedError, verifyBundle, type BundleRefusal } from '../../gateway/bundles/verify.js';

const HOUR = 3_600_000;
const bundle = { profile: { role: 'finance' }, budgets: { dailyUsd: 5 } };
const validate = (b: unknown) => (typeof (b as { budgets?: unknown }).budgets === 'object' ? [] : ['budgets: required']);

async function withKeyring<T>(fn: (k: BundleKeyring, clock: { now: number }) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-bundles-'));
  const clock = { now: Date.parse('2026-11-25T12:00:00Z') };
  try {
    const keyring = await BundleKeyring.loadOrCreate(dir, { bundleTtlMs: 24 * HOUR, publishLeadMs: 10 * 60_000, now: () => clock.now });
    return await fn(keyring, clock);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function refusal(p: Promise<unknown>): Promise<BundleRefusal> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof BundleRejectedError, String(err));
    return err.reason;
  }
  assert.fail('bundle was accepted');
}

function b64(v: unknown): string {
  return Buffer.from(JSON.stringify(v)).toString('base64url');
}

test('a correctly signed bundle verifies and carries its version and kid', () => {
  return withKeyring(async (keyring, clock) => {
    const signed = await signBundle(keyring, 'finance', bundle, 24 * HOUR, clock.now);
    const v = await verifyBundle(signed.jws, { jwks: keyring.jwks(), role: 'finance', validate, nowMs: clock.now });
    assert.equal(v.version, signed.version);
    assert.equal(v.kid, signed.kid);
    assert.deepEqual(v.bundle, bundle);
  });
});

test('unsigned, tampered, expired, wrong-role, schema-invalid, unknown-key and rollback bundles are refused', () => {
  return withKeyring(async (keyring, clock) => {
    const jwks = keyring.jwks();
    const opts = { jwks, role: 'finance', validate, nowMs: clock.now };
    const signed = await signBundle(keyring, 'finance', bundle, 24 * HOUR, clock.now);
    const [h, p, s] = signed.jws.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;

    assert.equal(await refusal(verifyBundle(JSON.stringify(claims), opts)), 'unsigned');
    assert.equal(await refusal(verifyBundle(`${b64({ alg: 'none', typ: 'sb-bundle+jwt' })}.${p}.`, opts)), 'unsigned');
    const loosened = b64({ ...claims, bundle: { ...bundle, budgets: { dailyUsd: 5000 } } });
    assert.equal(await refusal(verifyBundle(`${h}.${loosened}.${s}`, opts)), 'bad-signature');
    assert.equal(await refusal(verifyBundle(signed.jws, { ...opts, nowMs: clock.now + 25 * HOUR })), 'expired');
    assert.equal(await refusal(verifyBundle(signed.jws, { ...opts, role: 'marketing' })), 'wrong-role');
    const invalid = await signBundle(keyring, 'finance', { profile: {} }, HOUR, clock.now);
    assert.equal(await refusal(verifyBundle(invalid.jws, opts)), 'schema');
    assert.equal(await refusal(verifyBundle(signed.jws, { ...opts, jwks: { keys: [] } })), 'unknown-key');
    assert.equal(await refusal(verifyBundle(signed.jws, { ...opts, notIssuedBefore: signed.issuedAt + 1 })), 'rollback');
    assert.equal(await refusal(verifyBundle('not a bundle', opts)), 'malformed');
  });
});

test('key rotation: next key is published before it signs, old key verifies until its bundles expire', () => {
  return withKeyring(async (keyring, clock) => {
    const oldBundle = await signBundle(keyring, 'finance', bundle, 24 * HOUR, clock.now);
    const nextKid = await keyring.rotate();
    // Published at once, not yet signing.
    assert.ok(keyring.jwks().keys.some((k) => k.kid === nextKid));
    assert.equal((await keyring.signingKey()).kid, oldBundle.kid);
    assert.deepEqual(keyring.describe().map((k) => k.state), ['active', 'next']);

    clock.now += 11 * 60_000;
    const newBundle = await signBundle(keyring, 'finance', bundle, 24 * HOUR, clock.now);
    assert.equal(newBundle.kid, nextKid);
    assert.equal(newBundle.version, oldBundle.version, 'same content, same version');
    const jwks = keyring.jwks();
    const opts = { jwks, role: 'finance', validate, nowMs: clock.now };
    await verifyBundle(oldBundle.jws, opts);
    await verifyBundle(newBundle.jws, opts);

    // A day after the old key stopped signing, all its bundles have expired: it leaves the JWKS.
    clock.now += 24 * HOUR + 60_000;
    assert.equal(keyring.prune().length, 1);
    assert.deepEqual(keyring.jwks().keys.map((k) => k.kid), [nextKid]);
  });
});

test('keyring persists across reloads', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-bundles-'));
  try {
    const a = await BundleKeyring.loadOrCreate(dir, { bundleTtlMs: HOUR });
    const b = await BundleKeyring.loadOrCreate(dir, { bundleTtlMs: HOUR });
    assert.deepEqual(a.jwks(), b.jwks());
    assert.ok(!JSON.stringify(b.jwks()).includes('"d"'), 'JWKS never carries the private part');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
