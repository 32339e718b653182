import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { decodeJwt } from 'jose';
import { createControllerServices, type ControllerServices } from '../../controller/services.js';
import { buildControllerServer } from '../../controller/server.js';
import { importDirectory } from '../../controller/directory/import.js';
import { parseOidcConfig } from '../../controller/auth/oidc/config.js';
import { login } from '../../gateway/identity/oidc-login.js';
import { readSignIn, signInPath, signOut, SignInTokenProvider } from '../../gateway/identity/signin.js';
import { sampleDirectoryYaml } from '../controller/harness.js';
import { startTestIdp, TEST_CLIENT_ID, type TestIdp } from '../support/oidc-idp.js';

describe('OIDC sign-in against a real OpenID Provider on 127.0.0.1', () => {
  let idp: TestIdp;
  let otherIdp: TestIdp;
  let services: ControllerServices;
  let app: FastifyInstance;
  let controllerUrl: string;
  let dir: string;
  const laptops: string[] = [];
  const laptop = () => {
    const d = mkdtempSync(join(tmpdir(), 'sb-laptop-'));
    laptops.push(d);
    return d;
  };

  before(async () => {
    idp = await startTestIdp({
      'ana-idp': { email: 'Ana@Acme.test', groups: ['fin-users'] },
      'mia-idp': { email: 'mia@acme.test', groups: ['mkt'] },
      stranger: { email: 'stranger@elsewhere.test' },
    });
    otherIdp = await startTestIdp({ 'ana-idp': { email: 'ana@acme.test' } });
    dir = mkdtempSync(join(tmpdir(), 'sb-oidc-ctl-'));
    services = await createControllerServices({
      dataDir: dir,
      telemetry: { traces: 'off' },
      oidc: parseOidcConfig({
        issuers: [{ name: 'acme-sso', issuer: idp.issuer, clientId: TEST_CLIENT_ID, scopes: ['openid', 'email', 'groups'], allowInsecure: true }],
        tenant: 'acme',
        accessTokenSeconds: 900,
      }),
    });
    const yaml = sampleDirectoryYaml
      .replace('{ id: ana, kind: person, name: Ana Accountant,', '{ id: ana, kind: person, name: Ana Accountant, email: ana@acme.test,')
      .replace('{ id: mia, kind: person, name: Mia Marketer,', '{ id: mia, kind: person, name: Mia Marketer, email: mia@acme.test,');
    await importDirectory(yaml, 'yaml', 'directory.yaml', services.directory);
    app = await buildControllerServer({ services, logger: false });
    controllerUrl = await app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(async () => {
    await app.close();
    await services.close();
    await idp.close();
    await otherIdp.close();
    rmSync(dir, { recursive: true, force: true });
    for (const d of laptops) rmSync(d, { recursive: true, force: true });
  });

  const signInWith = (idToken: string) =>
    fetch(`${controllerUrl}/api/v1/oidc/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id_token: idToken }) });
  const callAsPerson = (token: string) => fetch(`${controllerUrl}/api/v1/profiles/finance`, { headers: { authorization: `Bearer ${token}` } });

  it('browser flow: auth code + PKCE + loopback redirect → agent JWT for the directory person', async () => {
    const dataDir = laptop();
    let authUrl = '';
    const stored = await login({
      controllerUrl,
      dataDir,
      flow: 'browser',
      openUrl: async (url) => {
        authUrl = url;
        await idp.browserSignIn(url, 'ana-idp');
      },
      showDeviceCode: () => assert.fail('not the device flow'),
    });
    const params = new URL(authUrl).searchParams;
    assert.equal(params.get('code_challenge_method'), 'S256');
    assert.ok(params.get('code_challenge') && params.get('state') && params.get('nonce'));
    assert.match(params.get('redirect_uri')!, /^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    assert.equal(stored.subject, 'ana');
    assert.deepEqual(stored.roles, ['finance']);
    assert.equal(statSync(signInPath(dataDir)).mode & 0o777, 0o600);

    const provider = new SignInTokenProvider(dataDir);
    const token = await provider.token();
    const claims = decodeJwt(token);
    assert.equal(claims.sub, 'ana');
    assert.deepEqual(claims.roles, ['finance']);
    assert.equal(claims.aud, 'switchboard-controller');
    assert.equal(claims.tenant, 'acme');
    assert.equal(claims.org_unit, 'finance-dept');
    assert.deepEqual(claims.amr, ['oidc']);
    assert.ok(typeof claims.jti === 'string' && claims.jti.length > 0);
    assert.ok(claims.exp! - claims.iat! <= 1800);
    assert.equal((await callAsPerson(token)).status, 200);
  });

  it('device flow: user code approved on another device → signed in', async () => {
    const dataDir = laptop();
    const stored = await login({
      controllerUrl,
      dataDir,
      flow: 'device',
      openUrl: () => assert.fail('not the browser flow'),
      showDeviceCode: (prompt) => {
        assert.match(prompt.userCode, /^[A-Z]{4}-?[A-Z]{4}$/);
        // The person approves elsewhere while this machine polls.
        setTimeout(() => void idp.approveDevice(prompt.verificationUri, prompt.userCode, 'ana-idp').catch((err: unknown) => console.error(err)), 50);
      },
    });
    assert.equal(stored.subject, 'ana');
  });

  it('renews silently with a rotated session token; reusing a spent one revokes the sign-in', async () => {
    const dataDir = laptop();
    await login({ controllerUrl, dataDir, flow: 'browser', openUrl: (u) => idp.browserSignIn(u, 'ana-idp'), showDeviceCode: () => undefined });
    let now = Date.now() / 1000;
    const provider = new SignInTokenProvider(dataDir, () => now);
    const first = await provider.token();
    assert.equal(await provider.token(), first, 'a fresh token is reused');
    const spent = readSignIn(dataDir)!.sessionToken;
    now += 15 * 60; // the JWT is now about to expire
    const second = await provider.token();
    assert.notEqual(second, first);
    assert.notEqual(readSignIn(dataDir)!.sessionToken, spent, 'session token rotated');
    const replay = await fetch(`${controllerUrl}/api/v1/oidc/renew`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ session_token: spent }) });
    assert.equal(replay.status, 401);
    assert.match(((await replay.json()) as { message: string }).message, /already used/);
    assert.equal((await callAsPerson(second)).status, 401, 'the whole sign-in is revoked');
  });

  it('logout revokes: the session token and the agent JWT stop working at once', async () => {
    const dataDir = laptop();
    await login({ controllerUrl, dataDir, flow: 'browser', openUrl: (u) => idp.browserSignIn(u, 'ana-idp'), showDeviceCode: () => undefined });
    const token = await new SignInTokenProvider(dataDir).token();
    const session = readSignIn(dataDir)!.sessionToken;
    assert.equal((await callAsPerson(token)).status, 200);
    await signOut(dataDir);
    assert.equal(readSignIn(dataDir), undefined);
    const res = await callAsPerson(token);
    assert.equal(res.status, 401);
    assert.match(((await res.json()) as { message: string }).message, /sign-in behind this token has ended/);
    const renew = await fetch(`${controllerUrl}/api/v1/oidc/renew`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ session_token: session }) });
    assert.equal(renew.status, 401);
  });

  it('refuses expired, wrong-audience, wrong-issuer and tampered ID tokens', async () => {
    const now = Math.floor(Date.now() / 1000);
    const base = { iss: idp.issuer, aud: TEST_CLIENT_ID, sub: 'ana-idp', email: 'ana@acme.test' };
    const expect401 = async (token: string, message: RegExp) => {
      const res = await signInWith(token);
      assert.equal(res.status, 401, `status for ${message}`);
      assert.match(((await res.json()) as { message: string }).message, message);
    };
    assert.equal((await signInWith(await idp.signIdToken(base))).status, 200, 'a well-formed token signs in');
    await expect401(await idp.signIdToken(base, { iat: now - 700, exp: now - 120 }), /expired/);
    await expect401(await idp.signIdToken({ ...base, aud: 'some-other-app' }), /audience/);
    await expect401(await otherIdp.signIdToken({ ...base, iss: otherIdp.issuer }), /issuer is not trusted/);
    // Right issuer name, wrong key: someone else's IdP claiming to be ours.
    await expect401(await otherIdp.signIdToken(base, { kid: 'test-idp-key-1' }), /signature is invalid/);
    const good = await idp.signIdToken(base);
    const [h, p, s] = good.split('.');
    const forged = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p!, 'base64url').toString()), email: 'carla@acme.test' })).toString('base64url');
    await expect401(`${h}.${forged}.${s}`, /signature is invalid/);
    await expect401('not-a-jwt-at-all-xxxxxxxx', /malformed/);
  });

  it('tolerates a minute of clock skew, not more', async () => {
    const now = Math.floor(Date.now() / 1000);
    const base = { iss: idp.issuer, aud: TEST_CLIENT_ID, sub: 'ana-idp', email: 'ana@acme.test' };
    // IdP clock 30 s ahead: the token was "issued" in our future, still fine.
    assert.equal((await signInWith(await idp.signIdToken(base, { iat: now + 30, exp: now + 630 }))).status, 200);
    // Expired 30 s ago by our clock: within tolerance.
    assert.equal((await signInWith(await idp.signIdToken(base, { iat: now - 600, exp: now - 30 }))).status, 200);
    // IdP clock 5 minutes ahead: refused.
    const ahead = await signInWith(await idp.signIdToken({ ...base, nbf: now + 300 }, { iat: now + 300, exp: now + 900 }));
    assert.equal(ahead.status, 401);
  });

  it('refuses people the directory does not list, and revokes a sign-in when the person is removed', async () => {
    const stranger = await signInWith(await idp.signIdToken({ iss: idp.issuer, aud: TEST_CLIENT_ID, sub: 'stranger', email: 'stranger@elsewhere.test' }));
    assert.equal(stranger.status, 403);
    assert.match(((await stranger.json()) as { message: string }).message, /not in the organisation directory/);

    const dataDir = laptop();
    await login({ controllerUrl, dataDir, flow: 'browser', openUrl: (u) => idp.browserSignIn(u, 'mia-idp'), showDeviceCode: () => undefined });
    let now = Date.now() / 1000;
    const provider = new SignInTokenProvider(dataDir, () => now);
    const token = await provider.token();
    assert.equal(decodeJwt(token).sub, 'mia');
    const db = services.store.db;
    await db.deleteFrom('directory_edges').where((eb) => eb.or([eb('from_id', '=', 'mia'), eb('to_id', '=', 'mia')])).execute();
    await db.deleteFrom('directory_nodes').where('id', '=', 'mia').execute();
    now += 15 * 60;
    await assert.rejects(provider.token(), /no longer in the organisation directory/);
    assert.equal(readSignIn(dataDir), undefined, 'the dead sign-in is forgotten on this machine');
    assert.equal((await callAsPerson(token)).status, 401, 'tokens from the revoked sign-in stop working');
  });
});
