/**
 * The Finance and Marketing Goose recipes in policies/recipes/ are valid against the recipe
 * format (policies/recipes/recipe.schema.json, written from goose-integration.md §5 and §4.1),
 * use the Agent Mesh tools, keep Goose on the gateway, and fit their role's allowlist.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { AGENT_MESH_EXTENSION, PRIVACY_GUARD_EXTENSION, extensionAllowlist } from '../../policies/extensions.js';

const DIR = 'policies/recipes';
const ajv = new Ajv2020({ allErrors: true, strict: false });
const validate = ajv.compile(JSON.parse(readFileSync(join(DIR, 'recipe.schema.json'), 'utf8')) as object);
const MESH_TOOLS = ['send_task', 'request_approval', 'notify', 'fetch_status'];

interface Recipe {
  title: string;
  instructions?: string;
  prompt?: string;
  parameters?: Array<{ key: string }>;
  extensions: Array<{ type: string; name: string; cmd?: string; args?: string[] }>;
  settings?: Record<string, unknown>;
}

const recipes = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .map((f) => ({ file: f, recipe: parseYaml(readFileSync(join(DIR, f), 'utf8')) as Recipe }));

describe('Goose recipes', () => {
  it('there is one for finance and one for marketing', () => {
    assert.deepEqual(recipes.map((r) => r.file.split('-')[0]).sort(), ['finance', 'marketing']);
  });

  for (const { file, recipe } of recipes) {
    it(`${file} is a valid recipe that uses the mesh and stays on the gateway`, () => {
      assert.ok(validate(recipe), ajv.errorsText(validate.errors));
      const role = file.split('-')[0]!;
      const text = `${recipe.instructions ?? ''}\n${recipe.prompt ?? ''}`;
      const used = new Set([...text.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]!));
      const declared = new Set((recipe.parameters ?? []).map((p) => p.key));
      assert.deepEqual([...used].filter((u) => !declared.has(u)), [], 'every template variable is a parameter');
      assert.deepEqual([...declared].filter((d) => !used.has(d)), [], 'every parameter is used');
      const mesh = recipe.extensions.find((e) => e.name === AGENT_MESH_EXTENSION.key);
      assert.deepEqual([mesh?.cmd, ...(mesh?.args ?? [])], ['switchboard', ...AGENT_MESH_EXTENSION.args]);
      assert.ok(recipe.extensions.some((e) => e.name === PRIVACY_GUARD_EXTENSION.key));
      const called = [...text.matchAll(/agent_mesh__(\w+)/g)].map((m) => m[1]!);
      assert.ok(called.includes('send_task') && called.includes('request_approval') && called.includes('fetch_status'), `uses the mesh: ${called.join(', ')}`);
      assert.deepEqual(called.filter((c) => !MESH_TOOLS.includes(c)), [], 'only tools the mesh has');
      assert.equal(recipe.settings?.goose_provider, undefined, 'a recipe provider would route around the gateway');
      const profile = parseYaml(readFileSync(`policies/profiles/${role}.yaml`, 'utf8')) as { extensions: { allow: string[] } };
      const allow = extensionAllowlist(profile.extensions.allow);
      assert.deepEqual(recipe.extensions.map((e) => e.name).filter((n) => !allow.allows(n)), [], `extensions allowed for ${role}`);
    });
  }

  it('the schema refuses what Goose would refuse', () => {
    const base = { title: 't', description: 'd', prompt: 'p' };
    assert.ok(validate(base));
    assert.ok(!validate({ title: 't', description: 'd' }), 'needs instructions or prompt');
    assert.ok(!validate({ ...base, parameters: [{ key: 'a', input_type: 'string', requirement: 'optional', description: 'x' }] }), 'optional needs a default');
    assert.ok(!validate({ ...base, parameters: [{ key: 'f', input_type: 'file', requirement: 'required', description: 'x', default: '/etc/passwd' }] }), 'file params have no default');
    assert.ok(!validate({ ...base, extensions: [{ type: 'sse', name: 'old', uri: 'http://x' }] }), 'sse is unsupported');
    assert.ok(!validate({ ...base, extensions: [{ type: 'stdio', name: 'x' }] }), 'stdio needs cmd');
    assert.ok(!validate({ ...base, settings: { goose_modle: 'x' } }), 'typos in settings');
  });
});
