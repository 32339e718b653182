import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SignJWT, generateKeyPair } from 'jose';
import { startTestController, sampleDirectoryYaml, type TestController } from './harness.js';
import { importDirectory } from '../../controller/directory/import.js';
import { SIGNING_KEYS_FILE } from '../../controller/auth/signing-keys.js';
import { CONTROLLER_AUDIENCE, DEFAULT_ISSUER } from '../../controller/services.js';
import { SecretStore } from '../../platform/secrets/store.js';

describe('controller authentication and enrolment', () => {
  let c: TestController;
  before(async () => {
    c = await startTestController();
    await importDirectory(sampleDirectoryYaml, 'yaml', 'sample.yaml', c.services.directory);
  });
  after(() => c.close());

  const get = (authorization?: string) =>
    c.app.inject({ method: 'GET', url: '/api/v1/profiles/finance', headers: authorization ? { authorization } : {} });

  /** Signs a token with the controller's own key, so only the claim under test is wrong. */
  async function signed(claims: { iss?: string; aud?: string; iat?: number; exp?: number; roles?: unknown; typ?: string }) {
    const { kid, privateKey } = c.services.keys.current();
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ roles: claims.roles ?? ['finance'], tenant: c.services.tenant })
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: claims.typ ?? 'at+jwt' })
      .setIssuer(claims.iss ?? DEFAULT_ISSUER)
      .setAudience(claims.aud ?? CONTROLLER_AUDIENCE)
      .setSubject('ana')
      .setJti('t-1')
      .setIssuedAt(claims.iat ?? now)
      .setExpirationTime(claims.exp ?? now + 600)
      .sign(privateKey);
  }

  it('keeps the signing keys in the secret store (no key file) and puts the kid in token headers', async () => {
    assert.equal(existsSync(join(c.dataDir, SIGNING_KEYS_FILE)), false);
    assert.match(SecretStore.open({ dataDir: c.dataDir }).get('signing.access-tokens') ?? '', /"privateJwk"/);
    const { token } = await c.services.tokens.mintAccessToken({ subject: 'x', roles: ['finance'], authMethod: 'test' });
    const header = JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string; alg: string };
    assert.equal(header.alg, 'EdDSA');
    assert.equal(header.kid, c.services.keys.jwks().keys[0]!.kid);
  });

  it('accepts a valid token', async () => {
    assert.equal((await get(`Bearer ${await signed({})}`)).statusCode, 200);
  });

  const cases: Array<[string, () => Promise<string | undefined>, RegExp]> = [
    ['missing', async () => undefined, /missing bearer token/],
    ['not bearer', async () => 'Basic YWxpY2U6eA==', /must be "Bearer <token>"/],
    ['expired', async () => signed({ iat: Math.floor(Date.now() / 1000) - 1000, exp: Math.floor(Date.now() / 1000) - 120 }), /token has expired/],
    ['wrong audience', async () => signed({ aud: 'switchboard-gateway' }), /audience is not this controller/],
    ['wrong issuer', async () => signed({ iss: 'https://evil.example' }), /issuer is not this controller/],
    ['no roles', async () => signed({ roles: [] }), /no valid "roles" claim/],
    ['lifetime over 30 min', async () => signed({ exp: Math.floor(Date.now() / 1000) + 3600 }), /lifetime exceeds 1800 seconds/],
    ['tampered', async () => {
      const [h, p, s] = (await signed({})).split('.');
      const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
      payload.roles = ['admin'];
      return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    }, /signature is invalid/],
    ['signed by a foreign key', async () => {
      const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ roles: ['admin'] })
        .setProtectedHeader({ alg: 'EdDSA', kid: c.services.keys.current().kid, typ: 'at+jwt' })
        .setIssuer(DEFAULT_ISSUER).setAudience(CONTROLLER_AUDIENCE).setSubject('mallory').setJti('x').setIssuedAt(now).setExpirationTime(now + 60)
        .sign(privateKey);
    }, /signature is invalid/],
    ['garbage', async () => 'not.a.jwt', /malformed|invalid/],
  ];
  for (const [name, make, message] of cases) {
    it(`refuses a ${name} token with 401 and a clear message`, async () => {
      const token = await make();
      const res = await get(token === undefined ? undefined : token.includes(' ') ? token : `Bearer ${token}`);
      assert.equal(res.statusCode, 401);
      assert.match(res.json().message, message);
      assert.match(String(res.headers['www-authenticate']), /^Bearer realm="switchboard-controller"/);
    });
  }

  it('tolerates small clock skew', async () => {
    const now = Math.floor(Date.now() / 1000);
    const res = await get(`Bearer ${await signed({ iat: now - 620, exp: now - 20 })}`);
    assert.equal(res.statusCode, 200, 'expired 20 s ago is within the 45 s leeway');
  });

  it('enrols once with a code, then rotates refresh tokens and revokes a family on reuse', async () => {
    const admin = await c.bearer(['admin']);
    const forbidden = await c.app.inject({ method: 'POST', url: '/api/v1/enrol-codes', headers: { authorization: await c.bearer(['finance'], 'ana') }, payload: { subject: 'ana' } });
    assert.equal(forbidden.statusCode, 403);
    const created = await c.app.inject({ method: 'POST', url: '/api/v1/enrol-codes', headers: { authorization: admin }, payload: { subject: 'ana' } });
    assert.equal(created.statusCode, 201);
    const { code, roles } = created.json() as { code: string; roles: string[] };
    assert.deepEqual(roles, ['finance'], 'roles come from the directory');
    assert.match(code, /^sbe_/);
    const stored = await c.services.store.db.selectFrom('enrolment_codes').selectAll().execute();
    assert.ok(stored.every((r) => r.code_hash !== code && !JSON.stringify(r).includes(code)), 'code stored only hashed');

    const first = await c.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { code } });
    assert.equal(first.statusCode, 200);
    const tokens = first.json() as { access_token: string; refresh_token: string; expires_in: number; subject: string };
    assert.equal(tokens.subject, 'ana');
    assert.ok(tokens.expires_in <= 1800);
    assert.equal((await get(`Bearer ${tokens.access_token}`)).statusCode, 200);

    const again = await c.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { code } });
    assert.equal(again.statusCode, 401);
    assert.match(again.json().message, /already been used/);
    const unknown = await c.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { code: 'sbe_nonexistent-code' } });
    assert.match(unknown.json().message, /not valid/);

    const r1 = await c.app.inject({ method: 'POST', url: '/api/v1/token/refresh', payload: { refreshToken: tokens.refresh_token } });
    assert.equal(r1.statusCode, 200);
    const rotated = r1.json() as { refresh_token: string; access_token: string };
    assert.notEqual(rotated.refresh_token, tokens.refresh_token);
    // Once the new token has been used, replaying the spent one revokes the family, including the newest token.
    const r2 = await c.app.inject({ method: 'POST', url: '/api/v1/token/refresh', payload: { refreshToken: rotated.refresh_token } });
    assert.equal(r2.statusCode, 200);
    const newest = r2.json() as { refresh_token: string };
    const replay = await c.app.inject({ method: 'POST', url: '/api/v1/token/refresh', payload: { refreshToken: tokens.refresh_token } });
    assert.equal(replay.statusCode, 401);
    assert.match(replay.json().message, /already used; all tokens from this enrolment are revoked/);
    const afterRevoke = await c.app.inject({ method: 'POST', url: '/api/v1/token/refresh', payload: { refreshToken: newest.refresh_token } });
    assert.equal(afterRevoke.statusCode, 401);
    assert.match(afterRevoke.json().message, /revoked/);
  });

  it('refuses an expired enrolment code and requires roles for unknown subjects', async () => {
    const admin = await c.bearer(['admin']);
    const noRoles = await c.app.inject({ method: 'POST', url: '/api/v1/enrol-codes', headers: { authorization: admin }, payload: { subject: 'gateway:laptop-1' } });
    assert.equal(noRoles.statusCode, 400);
    assert.match(noRoles.json().message, /roles: required/);
    const { code } = await c.services.enrolment.createCode({ subject: 'gateway:laptop-1', roles: ['engineering'], createdBy: 'test', ttlSeconds: 60 });
    await c.services.store.db.updateTable('enrolment_codes').set({ expires_at: Date.now() - 1 }).where('subject', '=', 'gateway:laptop-1').execute();
    const res = await c.app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { code } });
    assert.equal(res.statusCode, 401);
    assert.match(res.json().message, /expired/);
  });

  it('keeps verifying tokens signed before a key rotation', async () => {
    const before = await c.bearer(['finance'], 'ana');
    const newKid = await c.services.keys.rotate();
    const afterRotation = await c.bearer(['finance'], 'ana');
    assert.equal(JSON.parse(Buffer.from(afterRotation.slice(7).split('.')[0]!, 'base64url').toString()).kid, newKid);
    assert.equal((await get(before)).statusCode, 200);
    assert.equal((await get(afterRotation)).statusCode, 200);
    assert.equal(c.services.keys.jwks().keys.length, 2);
  });

  // Verified tokens are remembered by their text (decision 0074): a remembered token must still
  // stop working when its key is retired and when it expires.
  it('refuses a token it verified before once its key is retired', async () => {
    const oldKid = c.services.keys.current().kid;
    const token = await c.bearer(['finance'], 'ana');
    assert.equal((await get(token)).statusCode, 200);
    assert.equal((await get(token)).statusCode, 200);
    await c.services.keys.rotate();
    c.services.keys.retire(oldKid);
    const res = await get(token);
    assert.equal(res.statusCode, 401);
    assert.match(res.json().message, /unknown key/);
  });

  it('refuses a token it verified before once it has expired', async () => {
    const { token } = await c.services.tokens.mintAccessToken({ subject: 'ana', roles: ['finance'], authMethod: 'test', ttlSeconds: 60 });
    const first = await c.services.tokens.verify(token);
    first.roles.push('admin');
    assert.deepEqual((await c.services.tokens.verify(token)).roles, ['finance'], 'a caller changing its copy does not change the remembered one');
    mock.timers.enable({ apis: ['Date'], now: Date.now() + (60 + 30) * 1000 });
    try {
      assert.equal((await c.services.tokens.verify(token)).subject, 'ana', 'within the clock skew');
      mock.timers.tick(20_000);
      await assert.rejects(c.services.tokens.verify(token), /token has expired/);
    } finally {
      mock.timers.reset();
    }
  });
});
