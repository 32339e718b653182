import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { runController, type RunningController } from '../../controller/run.js';
import { CONTROLLER_AUDIENCE, DEFAULT_ISSUER } from '../../controller/services.js';
import { importDirectory } from '../../controller/directory/import.js';
import { dropSchema, TEST_PG_URL } from './backends.js';
import { sampleDirectoryYaml } from './harness.js';

describe('controller over real HTTP, on PostgreSQL', () => {
  let running: RunningController;
  let dataDir: string;
  const schema = `sb_http_${process.pid}_${randomBytes(4).toString('hex')}`;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sb-ctl-http-'));
    running = await runController({ dataDir, port: 0, dbUrl: `${TEST_PG_URL}?schema=${schema}`, logLevel: 'silent' });
    await importDirectory(sampleDirectoryYaml, 'yaml', 'sample.yaml', running.services.directory);
  });
  after(async () => {
    try {
      // Undefined when before() failed; the schema is dropped either way.
      await (running as RunningController | undefined)?.stop();
    } finally {
      await dropSchema(schema);
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('enrols an agent with a code, verifies its token against the JWKS, and calls the API', async () => {
    const health = await fetch(`${running.url}/healthz`);
    assert.deepEqual(await health.json(), { ok: true, storage: 'postgres' });

    const { token: admin } = await running.services.tokens.mintAccessToken({ subject: 'admin:test', roles: ['admin'], authMethod: 'test' });
    const codeRes = await fetch(`${running.url}/api/v1/enrol-codes`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: 'gateway:laptop-7', roles: ['engineering'], ttlSeconds: 600 }),
    });
    assert.equal(codeRes.status, 201);
    const { code } = (await codeRes.json()) as { code: string };

    const enrol = await fetch(`${running.url}/api/v1/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
    assert.equal(enrol.status, 200);
    const tokens = (await enrol.json()) as { access_token: string; refresh_token: string };

    // A gateway verifies controller tokens the standard way: remote JWKS, iss and aud.
    const jwks = createRemoteJWKSet(new URL(`${running.url}/.well-known/jwks.json`));
    const { payload, protectedHeader } = await jwtVerify(tokens.access_token, jwks, { issuer: DEFAULT_ISSUER, audience: CONTROLLER_AUDIENCE });
    assert.equal(payload.sub, 'gateway:laptop-7');
    assert.deepEqual(payload.roles, ['engineering']);
    assert.equal(protectedHeader.typ, 'at+jwt');

    const evaluate = await fetch(`${running.url}/api/v1/evaluate`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tokens.access_token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ subject: { id: 'lead' }, action: 'model.call', resource: { type: 'model', id: 'google/gemini-2.5-flash' } }),
    });
    assert.equal(evaluate.status, 200);
    assert.equal(((await evaluate.json()) as { allow: boolean }).allow, true);

    const asGateway = await fetch(`${running.url}/api/v1/directory/ana/managers`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(asGateway.status, 403, 'a gateway token may not read the directory');
    const managers = await fetch(`${running.url}/api/v1/directory/ana/managers`, { headers: { authorization: `Bearer ${admin}` } });
    assert.deepEqual(((await managers.json()) as { managers: Array<{ id: string }> }).managers.map((m) => m.id), ['lead', 'cfo']);

    const noToken = await fetch(`${running.url}/api/v1/directory/ana`);
    assert.equal(noToken.status, 401);
    assert.match(((await noToken.json()) as { message: string }).message, /missing bearer token/);

    const refreshed = await fetch(`${running.url}/api/v1/token/refresh`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: tokens.refresh_token }),
    });
    assert.equal(refreshed.status, 200);
    const replay = await fetch(`${running.url}/api/v1/token/refresh`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ refreshToken: tokens.refresh_token }),
    });
    assert.equal(replay.status, 200, 'a lost reply: the same pair again, within the grace window');
    assert.equal(((await replay.json()) as { refresh_token: string }).refresh_token, ((await refreshed.json()) as { refresh_token: string }).refresh_token);
  });

  it('answers malformed JSON with a 400, not a crash', async () => {
    const res = await fetch(`${running.url}/api/v1/enrol`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"code":' });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { message: string; statusCode: number };
    assert.equal(body.statusCode, 400);
    assert.doesNotMatch(JSON.stringify(body), /at .*\.ts:\d+/);
  });
});
