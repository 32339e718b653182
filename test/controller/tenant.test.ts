import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import type { FastifyInstance } from 'fastify';
import { createControllerServices, CONTROLLER_AUDIENCE, DEFAULT_ISSUER, type ControllerServices } from '../../controller/services.js';
import { buildControllerServer } from '../../controller/server.js';
import { importDirectory } from '../../controller/directory/import.js';
import { TenantConfigError, loadOrCreateTenant } from '../../controller/auth/tenant.js';
import { openGatewayDb } from '../../platform/sqlite.js';
import { AuditSpool } from '../../gateway/audit/spool.js';
import type { AuditEvent } from '../../audit/event.js';
import { sampleDirectoryYaml } from './harness.js';

function events(dir: string, tenantId: string): AuditEvent[] {
  const db = openGatewayDb(join(dir, `gw-${tenantId}.db`));
  const spool = new AuditSpool(db);
  spool.append({
    ts: new Date().toISOString(),
    tenantId,
    actor: { type: 'user', id: 'gateway:laptop', role: 'finance' },
    action: 'model.call',
    target: 'openai/gpt-4.1-mini',
    result: 'ok',
    reason: null,
    policyVersion: 'v1',
    redactions: [],
    cost: { tokens: 1, usd: 0.001 },
    traceId: 'r1',
  });
  const out = [...spool.events()];
  db.close();
  return out;
}

describe('tenants: every token carries one, tenant data is checked against it', () => {
  let dir: string;
  let services: ControllerServices;
  let app: FastifyInstance;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sb-ctl-'));
    services = await createControllerServices({ dataDir: dir, tenant: 'acme' });
    app = await buildControllerServer({ services, logger: false });
    await app.ready();
    await importDirectory(sampleDirectoryYaml, 'yaml', 'org.yaml', services.directory);
  });
  after(async () => {
    await app.close();
    await services.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const bearer = async (roles: string[], subject: string, tenant?: string) =>
    `Bearer ${(await services.tokens.mintAccessToken({ subject, roles, authMethod: 'test', ...(tenant ? { tenant } : {}) })).token}`;

  it('an enrolled gateway token carries the tenant, and may not write events into another tenant', async () => {
    const { code } = await services.enrolment.createCode({ subject: 'gateway:laptop', roles: ['finance'], createdBy: 'test' });
    const enrolled = await app.inject({ method: 'POST', url: '/api/v1/enrol', payload: { code } });
    assert.equal(enrolled.statusCode, 200);
    const pair = enrolled.json() as { access_token: string; tenant: string };
    assert.equal(pair.tenant, 'acme');
    const auth = `Bearer ${pair.access_token}`;
    const ingest = (evs: AuditEvent[]) => app.inject({ method: 'POST', url: '/api/v1/audit/ingest', headers: { authorization: auth }, payload: { events: evs } });

    const foreign = await ingest(events(dir, 'globex'));
    assert.equal(foreign.statusCode, 403);
    assert.match(foreign.json().message, /may only send events of tenant "acme".*"globex"/);
    assert.equal((await ingest(events(dir, 'acme'))).statusCode, 200);
    assert.equal((await services.store.db.selectFrom('audit_events').select('tenant_id').execute()).every((r) => r.tenant_id === 'acme'), true);
  });

  it("refuses another tenant's token on the controller's tenant data, reads and writes", async () => {
    const globexAdmin = await bearer(['admin'], 'admin:globex', 'globex');
    const write = await app.inject({ method: 'POST', url: '/api/v1/directory/import', headers: { authorization: globexAdmin }, payload: { nodes: [{ id: 'evil', kind: 'org', name: 'Evil' }] } });
    assert.equal(write.statusCode, 403);
    assert.match(write.json().message, /token is for tenant "globex"; this controller serves tenant "acme"/);
    assert.equal(await services.directory.get('evil'), undefined, 'nothing written');
    for (const url of ['/api/v1/directory/ana', '/api/v1/bundles/finance', '/api/v1/profiles/finance']) {
      assert.equal((await app.inject({ url, headers: { authorization: globexAdmin } })).statusCode, 403, url);
    }
    const code = await app.inject({ method: 'POST', url: '/api/v1/enrol-codes', headers: { authorization: globexAdmin }, payload: { subject: 'gateway:x', roles: ['finance'] } });
    assert.equal(code.statusCode, 403);
    assert.equal((await app.inject({ method: 'POST', url: '/api/v1/directory/import', headers: { authorization: await bearer(['admin'], 'admin:acme') }, payload: { nodes: [{ id: 'ok-org', kind: 'org', name: 'OK' }] } })).statusCode, 200);
  });

  it('refuses a token without a tenant claim', async () => {
    const { kid, privateKey } = services.keys.current();
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ roles: ['admin'] })
      .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt' })
      .setIssuer(DEFAULT_ISSUER).setAudience(CONTROLLER_AUDIENCE).setSubject('admin:x').setJti('j').setIssuedAt(now).setExpirationTime(now + 60)
      .sign(privateKey);
    const res = await app.inject({ url: '/api/v1/profiles', headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.statusCode, 401);
    assert.match(res.json().message, /no valid "tenant" claim/);
  });

  it('lets only admins, directory readers and the person themselves read the directory', async () => {
    const get = async (url: string, auth: string) => (await app.inject({ url, headers: { authorization: auth } })).statusCode;
    const ana = await bearer(['finance'], 'ana');
    assert.equal(await get('/api/v1/directory/ana', ana), 200, 'own node');
    assert.equal(await get('/api/v1/directory/ana/managers', ana), 200, 'own manager chain');
    assert.equal(await get('/api/v1/directory/lead', ana), 403);
    assert.equal(await get('/api/v1/directory/cfo/managers', ana), 403);
    assert.equal(await get('/api/v1/directory/ana', await bearer(['finance'], 'gateway:laptop')), 403, 'a gateway token');
    assert.equal(await get('/api/v1/directory/lead', await bearer(['directory-reader'], 'svc:hr-sync')), 200);
    assert.equal(await get('/api/v1/directory/lead', await bearer(['admin'], 'admin:acme')), 200);
  });

  it('fixes the tenant in the data dir: a different --tenant later is an error', () => {
    assert.equal(loadOrCreateTenant(dir), 'acme');
    assert.throws(() => loadOrCreateTenant(dir, 'globex'), (e: unknown) => e instanceof TenantConfigError && /serves tenant "acme", not "globex"/.test(e.message));
  });
});
