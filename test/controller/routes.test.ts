import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestController, sampleDirectoryYaml, type TestController } from './harness.js';
import { importDirectory } from '../../controller/directory/import.js';

describe('controller routes (inject)', () => {
  let c: TestController;
  let admin: string;
  before(async () => {
    c = await startTestController();
    admin = await c.bearer(['admin']);
    await importDirectory(sampleDirectoryYaml, 'yaml', 'sample.yaml', c.services.directory);
  });
  after(() => c.close());

  it('serves health and JWKS without a token', async () => {
    const health = await c.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.statusCode, 200);
    assert.deepEqual(health.json(), { ok: true, storage: 'sqlite' });
    const jwks = await c.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    assert.equal(jwks.statusCode, 200);
    const keys = jwks.json().keys as Array<Record<string, string>>;
    assert.equal(keys.length, 1);
    assert.equal(keys[0]!.kty, 'OKP');
    assert.equal(keys[0]!.crv, 'Ed25519');
    assert.equal(keys[0]!.d, undefined, 'no private key material');
  });

  it('returns directory nodes and manager chains', async () => {
    const res = await c.app.inject({ method: 'GET', url: '/api/v1/directory/ana', headers: { authorization: admin } });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), {
      id: 'ana', kind: 'person', name: 'Ana Accountant', parentId: 'payables', email: null,
      attributes: { clearance: 2 }, managerId: 'lead', roles: ['finance'],
    });
    const chain = await c.app.inject({ method: 'GET', url: '/api/v1/directory/ana/managers', headers: { authorization: admin } });
    assert.deepEqual(chain.json().managers.map((m: { id: string }) => m.id), ['lead', 'cfo']);
    const missing = await c.app.inject({ method: 'GET', url: '/api/v1/directory/nobody', headers: { authorization: admin } });
    assert.equal(missing.statusCode, 404);
    assert.match(missing.json().message, /no directory node "nobody"/);
    const notPerson = await c.app.inject({ method: 'GET', url: '/api/v1/directory/payables/managers', headers: { authorization: admin } });
    assert.equal(notPerson.statusCode, 404);
    assert.match(notPerson.json().message, /is a team, not a person/);
  });

  it('serves role profiles', async () => {
    const res = await c.app.inject({ method: 'GET', url: '/api/v1/profiles/finance', headers: { authorization: admin } });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.role, 'finance');
    assert.equal(body.guard.classes.IBAN, 'block');
    assert.ok(body.extensions.allow.includes('memory'));
    const list = await c.app.inject({ method: 'GET', url: '/api/v1/profiles', headers: { authorization: admin } });
    assert.deepEqual(list.json().roles, ['engineering', 'finance', 'marketing']);
    const none = await c.app.inject({ method: 'GET', url: '/api/v1/profiles/pirates', headers: { authorization: admin } });
    assert.equal(none.statusCode, 404);
    assert.match(none.json().message, /no profile for role "pirates"/);
  });

  it('refuses bad input with a 400 naming the field', async () => {
    const res = await c.app.inject({
      method: 'POST', url: '/api/v1/evaluate', headers: { authorization: admin },
      payload: { subject: { id: 'ana' }, action: 'model.call', resource: { type: 'model' } },
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().message, /resource must have required property 'id'/);
    const extra = await c.app.inject({
      method: 'POST', url: '/api/v1/evaluate', headers: { authorization: admin },
      payload: { subject: { id: 'ana' }, action: 'model.call', resource: { type: 'model', id: 'x' }, colour: 'blue' },
    });
    assert.equal(extra.statusCode, 400);
    assert.match(extra.json().message, /must NOT have additional properties/);
  });

  it('imports directory nodes through the admin route, refusing non-admins', async () => {
    const nodes = [{ id: 'zoe', kind: 'person', name: 'Zoe', parent: 'payables', manager: 'ana', roles: ['finance'] }];
    const denied = await c.app.inject({ method: 'POST', url: '/api/v1/directory/import', headers: { authorization: await c.bearer(['finance'], 'ana') }, payload: { nodes } });
    assert.equal(denied.statusCode, 403);
    assert.match(denied.json().message, /needs one of the roles: admin/);
    const ok = await c.app.inject({ method: 'POST', url: '/api/v1/directory/import', headers: { authorization: admin }, payload: { nodes } });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { created: 1, updated: 0 });
    const bad = await c.app.inject({
      method: 'POST', url: '/api/v1/directory/import', headers: { authorization: admin },
      payload: { nodes: [{ id: 'x1', kind: 'person', name: 'X', manager: 'ghost' }] },
    });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().message, /nodes\[0\] \(id x1\): manager: unknown node "ghost"/);
  });
});
