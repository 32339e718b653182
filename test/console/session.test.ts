/**
 * The console's serving and session over real HTTP: static files with a strict CSP and nothing
 * from elsewhere, the admin-token sign-in, the cookie's attributes, CSRF on writes, renewal and
 * sign-out. (The browser flows are in e2e.test.ts.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startTestController, type TestController } from '../controller/harness.js';
import { consoleAssetsDir } from '../../controller/console/routes.js';
import { mintConsoleToken } from '../../controller/console/session.js';
import { requireBuiltConsole } from './browser.js';

describe('console serving and session', () => {
  let c: TestController;
  let base: string;
  before(async () => {
    requireBuiltConsole();
    c = await startTestController();
    base = await c.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(() => c.close());

  const signIn = async (token: string) =>
    fetch(`${base}/api/v1/console/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  const cookieOf = (res: Response) => res.headers.getSetCookie().find((s) => s.startsWith('sb_console='))!;
  const pair = (setCookie: string) => setCookie.split(';')[0]!;

  it('serves the built app at /console/ with a CSP that allows only this origin', async () => {
    const redirect = await fetch(`${base}/console`, { redirect: 'manual' });
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), '/console/');
    const res = await fetch(`${base}/console/`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/html/);
    const csp = res.headers.get('content-security-policy')!;
    assert.match(csp, /default-src 'self'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|https?:/);
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    const html = await res.text();
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    assert.ok(assets.some((a) => a.endsWith('.js')) && assets.some((a) => a.endsWith('.css')), `index.html links its bundle: ${assets.join(', ')}`);
    for (const a of assets) {
      assert.ok(a.startsWith('/console/assets/'), `${a} is served from this controller`);
      const asset = await fetch(`${base}${a}`);
      assert.equal(asset.status, 200, a);
      assert.match(asset.headers.get('cache-control')!, /immutable/);
      assert.ok((await asset.arrayBuffer()).byteLength > 1000);
    }
  });

  it('the built files fetch nothing from outside: no remote URLs in scripts, styles or the page', () => {
    const dir = consoleAssetsDir()!;
    const files = [join(dir, 'index.html'), ...readdirSync(join(dir, 'assets')).map((f) => join(dir, 'assets', f))];
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      // URLs a browser would load: import/url()/src/href to another origin, web fonts.
      assert.doesNotMatch(text, /(?:url\(\s*['"]?|src=["']|href=["']|import\s*\(?\s*["'])(?:https?:)?\/\//, `${f} loads from another origin`);
      assert.doesNotMatch(text, /fonts\.googleapis|fonts\.gstatic|cdn\.jsdelivr|unpkg\.com|cdnjs/, `${f} names a CDN`);
    }
  });

  it('an admin token becomes an HttpOnly, SameSite=Strict, short-lived session cookie; the token itself is not kept', async () => {
    const bearer = await c.bearer(['admin'], 'owner');
    const res = await signIn(bearer.slice('Bearer '.length));
    assert.equal(res.status, 200);
    const session = (await res.json()) as { subject: string; roles: string[]; csrf: string; expiresAt: number; signedInWith: string };
    assert.equal(session.subject, 'owner');
    assert.deepEqual(session.roles, ['admin']);
    assert.equal(session.signedInWith, 'admin-token');
    assert.ok(session.csrf.length >= 24);
    const cookie = cookieOf(res);
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Strict/i);
    assert.match(cookie, /Path=\//);
    const maxAge = Number(/Max-Age=(\d+)/i.exec(cookie)![1]);
    assert.ok(maxAge > 0 && maxAge <= 15 * 60, `max-age ${maxAge}`);
    assert.ok(!cookie.includes(bearer.slice('Bearer '.length)), 'the cookie holds a fresh console token, not the pasted one');

    const me = await fetch(`${base}/api/v1/console/session`, { headers: { cookie: pair(cookie) } });
    assert.equal(me.status, 200);
    assert.equal(((await me.json()) as { csrf: string }).csrf, session.csrf);
  });

  it('reads with the cookie; writes need the CSRF header; a missing or wrong header is a 403', async () => {
    const res = await signIn((await c.bearer(['admin'], 'owner')).slice('Bearer '.length));
    const { csrf } = (await res.json()) as { csrf: string };
    const cookie = pair(cookieOf(res));
    assert.equal((await fetch(`${base}/api/v1/audit/events`, { headers: { cookie } })).status, 200);
    const write = (headers: Record<string, string>) =>
      fetch(`${base}/api/v1/directory/import`, { method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: '{"nodes":[]}' });
    const bare = await write({});
    assert.equal(bare.status, 403);
    assert.match(((await bare.json()) as { message: string }).message, /x-switchboard-csrf/);
    assert.equal((await write({ 'x-switchboard-csrf': 'not-the-token-xxxxxxxxxxxxxx' })).status, 403);
    // With the header the write passes auth and reaches the route's own validation.
    assert.equal((await write({ 'x-switchboard-csrf': csrf })).status, 400);
  });

  it('renews the cookie when it is past half its life, keeping the CSRF token and the session end', async () => {
    const caller = await c.services.tokens.verify((await c.bearer(['admin'], 'owner')).slice('Bearer '.length));
    const endsAt = Math.floor(Date.now() / 1000) + 120;
    const { minted, session } = await mintConsoleToken(c.services.tokens, caller, { signedInWith: 'admin-token', sessionEndsAt: endsAt });
    const res = await fetch(`${base}/api/v1/console/session`, { headers: { cookie: `sb_console=${minted.token}` } });
    assert.equal(res.status, 200);
    const renewed = cookieOf(res);
    assert.ok(renewed && !renewed.includes(minted.token), 'a new console token was set');
    const body = (await res.json()) as { csrf: string; sessionEndsAt: number };
    assert.equal(body.csrf, session.csrf);
    assert.equal(body.sessionEndsAt, endsAt, 'renewal never extends the sign-in');
    // A fresh session is not re-minted on every read.
    const fresh = await signIn((await c.bearer(['admin'])).slice('Bearer '.length));
    const again = await fetch(`${base}/api/v1/console/session`, { headers: { cookie: pair(cookieOf(fresh)) } });
    assert.equal(again.headers.getSetCookie().length, 0);
  });

  it('refuses bad sign-ins with a clear 4xx, and a cookie that holds a non-console token', async () => {
    const bad = await signIn('x'.repeat(40));
    assert.equal(bad.status, 401);
    assert.match(((await bad.json()) as { message: string }).message, /cannot sign in: token is malformed/);
    assert.equal((await signIn('')).status, 400);
    // A plain bearer token smuggled into the cookie is not a console session.
    const plain = (await c.bearer(['admin'])).slice('Bearer '.length);
    const smuggled = await fetch(`${base}/api/v1/audit/events`, { headers: { cookie: `sb_console=${plain}` } });
    assert.equal(smuggled.status, 401);
    assert.match(((await smuggled.json()) as { message: string }).message, /console session/);
    // A console token cannot be pasted back in to start another session.
    const res = await signIn(plain);
    const consoleToken = pair(cookieOf(res)).slice('sb_console='.length);
    assert.equal((await signIn(consoleToken)).status, 400);
    // Bearer tokens keep working unchanged next to the cookie scheme.
    assert.equal((await fetch(`${base}/api/v1/audit/events`, { headers: { authorization: `Bearer ${plain}` } })).status, 200);
  });

  it('sign-out clears the cookie; the console offers the admin token when no IdP is configured', async () => {
    const res = await signIn((await c.bearer(['admin'])).slice('Bearer '.length));
    const { csrf } = (await res.json()) as { csrf: string };
    const out = await fetch(`${base}/api/v1/console/session`, { method: 'DELETE', headers: { cookie: pair(cookieOf(res)), 'x-switchboard-csrf': csrf } });
    assert.equal(out.status, 204);
    assert.match(cookieOf(out), /sb_console=;/);
    const config = await (await fetch(`${base}/api/v1/console/config`)).json();
    assert.deepEqual(config, { oidcIssuers: [], adminToken: true });
    const start = await fetch(`${base}/console/auth/oidc/start`, { redirect: 'manual' });
    assert.equal(start.status, 404);
  });
});
