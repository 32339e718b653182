/**
 * GET/PUT /api/v1/profiles/:role/downshift-rules on both backends: who may call them, schema
 * and reference errors naming the path, optimistic concurrency (409 version_conflict), the new
 * signed bundle carrying the rules, and the stored profile surviving a restart and a changed
 * profile file.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { BACKENDS, startMeshController, type MeshTestController } from '../mesh/support.js';
import { dropSchema } from './backends.js';
import { SHIPPED_PROFILES_DIR } from '../../controller/profiles/catalog.js';
import type { RoleProfile } from '../../policies/profile.js';
import type { DownshiftRuleSet } from '../../policies/downshift/types.js';

const RULES: DownshiftRuleSet = {
  version: 1,
  tiers: { economy: 'openai/gpt-4.1-mini' },
  rules: [{ id: 'finance-chat-to-mini', match: { taskKinds: ['chat'], models: ['openai/gpt-4.1'] }, action: { tier: 'economy' } }],
};

const payloadOf = (jws: string) => JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString('utf8')) as { ver: string; bundle: { profile: RoleProfile } };

for (const backend of BACKENDS) {
  describe(`downshift rules routes on ${backend}`, () => {
    let c: MeshTestController;
    before(async () => {
      c = await startMeshController(backend);
    });
    after(() => c.close());

    const as = async (subject: string, roles: string[], method: 'GET' | 'PUT', url: string, body?: unknown) =>
      c.app.inject({ method, url, headers: { authorization: `Bearer ${await c.token(subject, roles)}` }, ...(body !== undefined ? { payload: body as object } : {}) });
    const url = '/api/v1/profiles/finance/downshift-rules';

    it('GET: the profile file\'s rules, version 1, and the version of the bundle serving them', async () => {
      const res = await as('cora', ['cost-owner'], 'GET', url);
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      const file = parseYaml(readFileSync(join(SHIPPED_PROFILES_DIR, 'finance.yaml'), 'utf8')) as RoleProfile;
      assert.deepEqual([body.role, body.version, body.source], ['finance', 1, 'file']);
      assert.deepEqual(body.rules, file.downshift);
      const bundle = await as('root', ['admin'], 'GET', '/api/v1/bundles/finance');
      assert.equal(bundle.headers['x-bundle-version'], body.bundleVersion);
      assert.equal((await as('root', ['admin'], 'GET', '/api/v1/profiles/nobody/downshift-rules')).statusCode, 404);
    });

    it('only admins and cost owners may read or write', async () => {
      assert.equal((await as('ana', ['finance'], 'GET', url)).statusCode, 403);
      assert.equal((await as('ana', ['finance'], 'PUT', url, { rules: RULES })).statusCode, 403);
      assert.equal((await c.app.inject({ method: 'GET', url })).statusCode, 401);
    });

    it('PUT refuses invalid rules with a 400 naming the failing path', async () => {
      const cases: Array<[unknown, RegExp]> = [
        [{ version: 1, rules: [{ id: 'x', match: {}, action: { tier: 'cheap' } }] }, /rules\.rules\[0\]\.action\.tier: must be one of/],
        [{ version: 1, rules: [{ id: 'x', action: { tier: 'economy' } }] }, /rules\.rules\[0\]: must have required property 'match'/],
        [{ version: 1, rules: [{ id: 'x', match: {}, action: { tier: 'economy' } }] }, /rules\.rules\[0\]\.action\.tier: no model is set for tier "economy"/],
        [{ version: 1, rules: [], surprise: true }, /rules\.surprise: unknown key/],
        [{ ...RULES, tiers: { economy: 'openai/gpt-4o-mini' } }, /rules\.tiers\.economy: model "openai\/gpt-4o-mini" is not allowed for role finance/],
      ];
      for (const [rules, message] of cases) {
        const res = await as('cora', ['cost-owner'], 'PUT', url, { rules });
        assert.equal(res.statusCode, 400, JSON.stringify(rules));
        assert.match(res.json().message, message);
      }
      assert.equal((await as('cora', ['cost-owner'], 'PUT', url, { rules: RULES, extra: 1 })).statusCode, 400);
      assert.equal((await as('cora', ['cost-owner'], 'GET', url)).json().version, 1, 'nothing stored');
    });

    it('PUT stores a new version, signs a new bundle carrying the rules, and refuses a stale expectedVersion', async () => {
      const before = (await as('cora', ['cost-owner'], 'GET', url)).json();
      const res = await as('cora', ['cost-owner'], 'PUT', url, { rules: RULES, expectedVersion: before.version });
      assert.equal(res.statusCode, 200, res.body);
      const put = res.json();
      assert.equal(put.version, before.version + 1);
      assert.notEqual(put.bundleVersion, before.bundleVersion);
      const bundle = await as('root', ['admin'], 'GET', '/api/v1/bundles/finance');
      assert.equal(bundle.headers['x-bundle-version'], put.bundleVersion);
      assert.deepEqual(payloadOf(bundle.body).bundle.profile.downshift, RULES);
      const after = (await as('cora', ['cost-owner'], 'GET', url)).json();
      assert.deepEqual([after.version, after.source, after.updatedBy, after.bundleVersion], [put.version, 'api', 'cora', put.bundleVersion]);
      assert.deepEqual(after.rules, RULES);
      assert.deepEqual((await as('root', ['admin'], 'GET', '/api/v1/profiles/finance')).json().downshift, RULES);

      const stale = await as('cora', ['cost-owner'], 'PUT', url, { rules: { version: 1, rules: [] }, expectedVersion: before.version });
      assert.equal(stale.statusCode, 409);
      assert.equal(stale.json().code, 'version_conflict');
      assert.match(stale.json().message, new RegExp(`at version ${put.version}, not ${before.version}`));

      // Concurrent writers quoting the same version: exactly one wins.
      const racing = await Promise.all([1, 2, 3].map((n) => as('root', ['admin'], 'PUT', url, { rules: { ...RULES, rules: [{ ...RULES.rules[0]!, id: `race-${n}` }] }, expectedVersion: put.version })));
      assert.deepEqual(racing.map((r) => r.statusCode).sort(), [200, 409, 409]);
    });

    it('the stored rules survive a restart; a changed profile file is applied but keeps the published rules', async () => {
      const published = (await as('cora', ['cost-owner'], 'GET', url)).json();
      const shared = { dataDir: c.dataDir, dbUrl: c.dbUrl };
      await c.app.close();
      await c.services.close();
      const file = parseYaml(readFileSync(join(SHIPPED_PROFILES_DIR, 'finance.yaml'), 'utf8')) as RoleProfile;
      mkdirSync(join(c.dataDir, 'profiles'), { recursive: true });
      writeFileSync(join(c.dataDir, 'profiles', 'finance.yaml'), toYaml({ ...file, displayName: 'Finance and Treasury' }));
      const fresh = await startMeshController(backend, {}, shared);
      // A controller on shared storage leaves it in place when closed: remove it here.
      c = {
        ...fresh,
        async close() {
          await fresh.close();
          rmSync(shared.dataDir, { recursive: true, force: true });
          if (shared.dbUrl) await dropSchema(new URL(shared.dbUrl).searchParams.get('schema')!);
        },
      };
      const now = (await as('cora', ['cost-owner'], 'GET', url)).json();
      assert.equal(now.version, published.version + 1, 'the file change is a new version');
      assert.deepEqual(now.rules, published.rules, 'published rules kept');
      assert.equal(now.source, 'api');
      const profile = (await as('root', ['admin'], 'GET', '/api/v1/profiles/finance')).json();
      assert.equal(profile.displayName, 'Finance and Treasury');
      assert.deepEqual(profile.downshift, published.rules);
    });
  });
}
