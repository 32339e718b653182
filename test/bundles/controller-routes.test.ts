import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createControllerServices } from '../../controller/services.js';
import { buildControllerServer } from '../../controller/server.js';
import { verifyBundle } from '../../gateway/bundles/verify.js';
import { validateBundleBody } from '../../policies/bundle/body.js';

test('bundle routes: signed bundle with ETag and 304, role checks, public JWKS, staged key rotation', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-ctl-'));
  const clock = { now: Date.now() };
  const services = await createControllerServices({ dataDir });
  services.bundles = { ttlMs: 3_600_000, publishLeadMs: 60_000, now: () => clock.now };
  const app = await buildControllerServer({ services, logger: false });
  await app.ready();
  const bearer = async (roles: string[]) => `Bearer ${(await services.tokens.mintAccessToken({ subject: 'gw', roles, authMethod: 'test' })).token}`;
  try {
    const finance = await bearer(['finance']);
    const first = await app.inject({ url: '/api/v1/bundles/finance', headers: { authorization: finance } });
    assert.equal(first.statusCode, 200, first.body);
    assert.equal(first.headers['content-type'], 'application/jose');
    const etag = first.headers.etag as string;
    assert.match(etag, /^"[\w-]+"$/);

    const jwks = await app.inject({ url: '/api/v1/bundle-keys' });
    assert.equal(jwks.statusCode, 200, 'JWKS is public');
    const verified = await verifyBundle(first.body, { jwks: jwks.json(), role: 'finance', validate: validateBundleBody, nowMs: clock.now });
    assert.equal(verified.version, first.headers['x-bundle-version']);
    assert.equal((verified.bundle as { profile: { role: string } }).profile.role, 'finance');

    const again = await app.inject({ url: '/api/v1/bundles/finance', headers: { authorization: finance, 'if-none-match': etag } });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, '');
    const stale = await app.inject({ url: '/api/v1/bundles/finance', headers: { authorization: finance, 'if-none-match': '"something-else"' } });
    assert.equal(stale.statusCode, 200);
    assert.equal(stale.body, first.body, 'same bytes while nothing changed');

    assert.equal((await app.inject({ url: '/api/v1/bundles/finance' })).statusCode, 401);
    const wrongRole = await app.inject({ url: '/api/v1/bundles/marketing', headers: { authorization: finance } });
    assert.equal(wrongRole.statusCode, 403);
    assert.match(wrongRole.json().message, /not "marketing"/);
    const admin = await bearer(['admin']);
    const unknown = await app.inject({ url: '/api/v1/bundles/astronauts', headers: { authorization: admin } });
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.json().message, /no profile for role "astronauts"/);
    assert.equal((await app.inject({ url: '/api/v1/bundles/Bad Role!', headers: { authorization: admin } })).statusCode, 400);

    // Rotation: admin only; the new key is published at once and signs only after the lead time.
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/bundle-keys/rotate', headers: { authorization: finance } })).statusCode, 403);
    const rotated = await app.inject({ method: 'POST', url: '/api/v1/bundle-keys/rotate', headers: { authorization: admin } });
    assert.equal(rotated.statusCode, 200, rotated.body);
    const { kid, keys } = rotated.json() as { kid: string; keys: Array<{ kid: string; state: string }> };
    assert.deepEqual(keys.map((k) => k.state), ['active', 'next']);
    const published = (await app.inject({ url: '/api/v1/bundle-keys' })).json() as { keys: Array<{ kid: string }> };
    assert.ok(published.keys.some((k) => k.kid === kid));
    const beforeActivation = await app.inject({ url: '/api/v1/bundles/finance', headers: { authorization: finance, 'if-none-match': etag } });
    assert.equal(beforeActivation.statusCode, 304, 'nothing changes until the new key activates');

    clock.now += 61_000;
    const afterActivation = await app.inject({ url: '/api/v1/bundles/finance', headers: { authorization: finance, 'if-none-match': etag } });
    assert.equal(afterActivation.statusCode, 200, 're-signed with the new key');
    const both = (await app.inject({ url: '/api/v1/bundle-keys' })).json();
    const reverified = await verifyBundle(afterActivation.body, { jwks: both, role: 'finance', validate: validateBundleBody, nowMs: clock.now });
    assert.equal(reverified.kid, kid);
    await verifyBundle(first.body, { jwks: both, role: 'finance', validate: validateBundleBody, nowMs: clock.now });

    // Once every bundle the old key signed has expired, it leaves the JWKS.
    clock.now += 3_600_000 + 1000;
    const later = (await app.inject({ url: '/api/v1/bundle-keys' })).json() as { keys: Array<{ kid: string }> };
    assert.deepEqual(later.keys.map((k) => k.kid), [kid]);

    const openapi = (await app.inject({ url: '/openapi.json' })).json() as { paths: Record<string, unknown> };
    for (const path of ['/api/v1/bundles/{role}', '/api/v1/bundle-keys', '/api/v1/bundle-keys/rotate']) assert.ok(openapi.paths[path], `${path} in OpenAPI`);
  } finally {
    await app.close();
    await services.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
