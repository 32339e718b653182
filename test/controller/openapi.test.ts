import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestController, type TestController } from './harness.js';
import { registeredRoutes } from '../../controller/server.js';

describe('OpenAPI document', () => {
  let c: TestController;
  let doc: { openapi: string; paths: Record<string, Record<string, { security?: unknown[]; requestBody?: unknown }>> };
  before(async () => {
    c = await startTestController();
    const res = await c.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(res.statusCode, 200);
    doc = res.json();
  });
  after(() => c.close());

  it('is OpenAPI 3.1 with the core API routes', () => {
    assert.equal(doc.openapi, '3.1.0');
    for (const [method, path] of [
      ['get', '/api/v1/directory/{nodeId}'],
      ['get', '/api/v1/directory/{personId}/managers'],
      ['get', '/api/v1/profiles/{role}'],
      ['post', '/api/v1/evaluate'],
      ['post', '/api/v1/enrol'],
      ['post', '/api/v1/token/refresh'],
      ['get', '/.well-known/jwks.json'],
    ] as const) {
      assert.ok(doc.paths[path]?.[method], `${method.toUpperCase()} ${path} missing`);
    }
    assert.ok(doc.paths['/api/v1/evaluate']!.post!.requestBody, 'request body schema is documented');
    assert.deepEqual(doc.paths['/api/v1/enrol']!.post!.security, [], 'public routes declare no security');
    assert.equal(doc.paths['/api/v1/evaluate']!.post!.security, undefined, 'protected routes inherit bearer security');
  });

  it('documents every registered route', () => {
    const documented = new Set(Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)));
    const routes = registeredRoutes(c.app).filter((r) => !r.hidden);
    assert.ok(routes.length >= 11, `expected the core routes, got ${routes.length}`);
    for (const r of routes) {
      const key = `${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`;
      assert.ok(documented.has(key), `${key} is registered but not in /openapi.json`);
    }
  });
});
