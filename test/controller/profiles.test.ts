import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProfileCatalog, ProfileError, SHIPPED_PROFILES_DIR } from '../../controller/profiles/catalog.js';
import { validateBundlePayload, validateProfile } from '../../policies/profile-schema.js';
import type { RoleProfile } from '../../policies/profile.js';
import { loadModelRegistry } from '../../models/registry.js';
import { modelAllowed } from '../../gateway/stages/policy.js';

describe('role profiles', () => {
  const shipped = ProfileCatalog.load([SHIPPED_PROFILES_DIR]);

  it('ships finance, marketing and engineering, each valid with every section', () => {
    assert.deepEqual(shipped.roles(), ['engineering', 'finance', 'marketing']);
    for (const p of shipped.all()) {
      assert.deepEqual(validateProfile(p), [], p.role);
      assert.ok(p.models.allowed.length > 0 && p.extensions.allow.length > 0 && p.skills!.length > 0, p.role);
      assert.ok(p.budgets && p.downshift && p.guard.classes, p.role);
      assert.deepEqual(validateBundlePayload({ format: 1, role: p.role, profile: p }), [], `${p.role} bundle`);
    }
  });

  it("ships consistent profiles: each default model is allowed and within the role's tiers", () => {
    const registry = loadModelRegistry();
    for (const p of shipped.all()) {
      const def = p.models.default;
      assert.ok(def, `${p.role} names a default model`);
      const policy = { role: p.role, version: 'test', guard: p.guard, allowedModels: p.models.allowed, models: p.models };
      assert.ok(modelAllowed(policy, def), `${p.role}: default ${def} is in models.allowed`);
      const tier = registry.tierOf(def);
      assert.ok(tier && (!p.models.tiers || (p.models.tiers as string[]).includes(tier)), `${p.role}: default ${def} (tier ${tier}) is within ${p.models.tiers?.join(', ')}`);
    }
  });

  it('names the key of a schema problem, including section schemas', () => {
    const finance = shipped.get('finance')!;
    assert.deepEqual(validateProfile({ ...finance, colour: 'red' }), ['colour: unknown key']);
    assert.deepEqual(validateProfile({ ...finance, models: { allowed: [], tiers: ['gold'] } }).sort(), [
      'models.allowed: must NOT have fewer than 1 items (got [])',
      'models.tiers.0: must be one of "premium", "standard", "economy", "local" (got "gold")',
    ]);
    assert.match(validateProfile({ ...finance, guard: { defaultMode: 'shred' } }).join(), /guard.defaultMode: must be one of/);
    assert.match(validateProfile({ ...finance, budgets: { roles: { finance: { weekly: { limitUsd: 1 } } } } }).join(), /budgets\.roles\.finance\.weekly: unknown key/);
    assert.match(validateBundlePayload({ format: 1, role: 'marketing', profile: finance }).join(), /differs from bundle role/);
    assert.match(validateBundlePayload({ format: 2, role: 'finance', profile: finance }).join(), /format/);
  });

  it('lets the data dir override a shipped profile and refuses a mismatched file name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-prof-'));
    try {
      const text = readFileSync(join(SHIPPED_PROFILES_DIR, 'finance.yaml'), 'utf8').replace('displayName: Finance', 'displayName: Finance (EU)');
      writeFileSync(join(dir, 'finance.yaml'), text);
      const merged = ProfileCatalog.load([SHIPPED_PROFILES_DIR, dir]);
      assert.equal(merged.get('finance')!.displayName, 'Finance (EU)');
      assert.notEqual(merged.version, shipped.version);
      writeFileSync(join(dir, 'sales.yaml'), text);
      assert.throws(() => ProfileCatalog.load([dir]), (e: unknown) => e instanceof ProfileError && /role "finance" must match the file name \("sales"\)/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps a stable version for identical content', () => {
    const again = ProfileCatalog.load([SHIPPED_PROFILES_DIR]);
    assert.equal(again.version, shipped.version);
    const p: RoleProfile = shipped.get('engineering')!;
    assert.equal(ProfileCatalog.fromProfiles([p]).version, ProfileCatalog.fromProfiles([structuredClone(p)]).version);
  });
});
