import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { applyGooseSetup, planGooseSetup, redactToken, type GooseSetupInputs } from '../../installers/goose/setup.js';
import { GooseConfigError, mergeGooseConfig } from '../../installers/goose/config-yaml.js';
import { gooseConfigDir } from '../../installers/goose/paths.js';
import { DEFAULT_CONTEXT_LIMIT, gooseBaseUrl, type GooseProviderFile } from '../../installers/goose/provider-file.js';

const TOKEN = 'sb-local-test-token-0123456789abcdef';
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sb-goose-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function inputs(configDir: string, over: Partial<GooseSetupInputs> = {}): GooseSetupInputs {
  return {
    configDir,
    gatewayUrl: 'http://127.0.0.1:8787',
    token: TOKEN,
    model: 'anthropic/claude-sonnet-4',
    fastModel: 'google/gemini-2.5-flash',
    setFastModelKey: false,
    contextLimit: (id) => (id === 'anthropic/claude-sonnet-4' ? 200_000 : undefined),
    ...over,
  };
}

const EXISTING_CONFIG = `# my Goose settings
GOOSE_PROVIDER: openrouter
GOOSE_MODEL: openai/gpt-4o
GOOSE_MODE: smart_approve
extensions:
  developer:
    enabled: true
    type: builtin
    name: developer
    timeout: 300
  pii-audit:
    enabled: true
    type: streamable_http
    name: pii-audit
    uri: http://127.0.0.1:8787/mcp
    headers: { X-Gateway-Client: goose }
`;

describe('goose setup: provider file and config.yaml', () => {
  it('creates the declarative provider file and config.yaml in an empty config dir', () => {
    const dir = tempDir();
    const plan = planGooseSetup(inputs(dir));
    assert.equal(plan.providerFile.action, 'create');
    assert.equal(plan.configFile.action, 'create');
    applyGooseSetup(plan);

    const providerPath = join(dir, 'custom_providers', 'switchboard.json');
    const provider = JSON.parse(readFileSync(providerPath, 'utf8')) as GooseProviderFile;
    assert.equal(provider.name, 'switchboard');
    assert.equal(provider.engine, 'openai');
    assert.equal(provider.base_url, 'http://127.0.0.1:8787/goose/v1');
    assert.equal(provider.requires_auth, false);
    assert.equal(provider.api_key_env, '');
    assert.deepEqual(provider.headers, { Authorization: `Bearer ${TOKEN}` });
    assert.equal(provider.dynamic_models, true);
    assert.equal(provider.fast_model, 'google/gemini-2.5-flash');
    assert.deepEqual(provider.models, [
      { name: 'anthropic/claude-sonnet-4', context_limit: 200_000 },
      { name: 'google/gemini-2.5-flash', context_limit: DEFAULT_CONTEXT_LIMIT },
    ]);
    // It holds the gateway token: owner-only.
    assert.equal(statSync(providerPath).mode & 0o777, 0o600);

    const config = parseYaml(readFileSync(join(dir, 'config.yaml'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(config, { GOOSE_PROVIDER: 'switchboard', GOOSE_MODEL: 'anthropic/claude-sonnet-4' });
    assert.equal(existsSync(join(dir, 'config.yaml.bak')), false, 'nothing to back up when there was no file');
  });

  it('keeps every other key, comment and extension, and saves the old file as .bak', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.yaml'), EXISTING_CONFIG);
    const plan = planGooseSetup(inputs(dir));
    assert.deepEqual(plan.keyChanges, [
      { key: 'GOOSE_PROVIDER', from: 'openrouter', to: 'switchboard' },
      { key: 'GOOSE_MODEL', from: 'openai/gpt-4o', to: 'anthropic/claude-sonnet-4' },
    ]);
    applyGooseSetup(plan);

    const text = readFileSync(join(dir, 'config.yaml'), 'utf8');
    assert.match(text, /^# my Goose settings/);
    const before = parseYaml(EXISTING_CONFIG) as Record<string, unknown>;
    const afterSetup = parseYaml(text) as Record<string, unknown>;
    assert.deepEqual(afterSetup, { ...before, GOOSE_PROVIDER: 'switchboard', GOOSE_MODEL: 'anthropic/claude-sonnet-4' });
    assert.equal(readFileSync(join(dir, 'config.yaml.bak'), 'utf8'), EXISTING_CONFIG);
  });

  it('is idempotent: a second run plans no change and writes nothing', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.yaml'), EXISTING_CONFIG);
    applyGooseSetup(planGooseSetup(inputs(dir)));
    const providerPath = join(dir, 'custom_providers', 'switchboard.json');
    const snapshot = [readFileSync(providerPath, 'utf8'), readFileSync(join(dir, 'config.yaml'), 'utf8'), statSync(providerPath).mtimeMs];

    const again = planGooseSetup(inputs(dir));
    assert.equal(again.providerFile.action, 'unchanged');
    assert.equal(again.configFile.action, 'unchanged');
    assert.deepEqual(again.keyChanges, []);
    applyGooseSetup(again);
    assert.deepEqual([readFileSync(providerPath, 'utf8'), readFileSync(join(dir, 'config.yaml'), 'utf8'), statSync(providerPath).mtimeMs], snapshot);
  });

  it('changing only the model keeps the pre-Switchboard backup', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'config.yaml'), EXISTING_CONFIG);
    applyGooseSetup(planGooseSetup(inputs(dir)));
    const plan = planGooseSetup(inputs(dir, { model: 'openai/gpt-5.1' }));
    assert.equal(plan.configFile.action, 'update');
    assert.equal(plan.configFile.backupPath, undefined);
    applyGooseSetup(plan);
    assert.equal(readFileSync(join(dir, 'config.yaml.bak'), 'utf8'), EXISTING_CONFIG);
    assert.equal((parseYaml(readFileSync(join(dir, 'config.yaml'), 'utf8')) as Record<string, unknown>).GOOSE_MODEL, 'openai/gpt-5.1');
  });

  it('sets GOOSE_FAST_MODEL only when asked to', () => {
    const dir = tempDir();
    applyGooseSetup(planGooseSetup(inputs(dir, { setFastModelKey: true, fastModel: 'openai/gpt-4o-mini' })));
    const config = parseYaml(readFileSync(join(dir, 'config.yaml'), 'utf8')) as Record<string, unknown>;
    assert.equal(config.GOOSE_FAST_MODEL, 'openai/gpt-4o-mini');
  });

  it('refuses a config.yaml that is not valid YAML or not a mapping, leaving it untouched', () => {
    const dir = tempDir();
    const broken = 'GOOSE_PROVIDER: [openrouter\nextensions: {';
    writeFileSync(join(dir, 'config.yaml'), broken);
    assert.throws(() => planGooseSetup(inputs(dir)), (err: unknown) => err instanceof GooseConfigError && /not valid YAML/.test(err.message));
    assert.equal(readFileSync(join(dir, 'config.yaml'), 'utf8'), broken);
    assert.throws(() => mergeGooseConfig('- a\n- b\n', { GOOSE_PROVIDER: 'switchboard' }), /must be a YAML mapping/);
  });

  it('fills a comment-only config.yaml and keeps the comment', () => {
    const merged = mergeGooseConfig('# nothing yet\n', { GOOSE_PROVIDER: 'switchboard' });
    assert.match(merged.text, /# nothing yet/);
    assert.deepEqual(parseYaml(merged.text), { GOOSE_PROVIDER: 'switchboard' });
  });

  it('redacts the token in printed plans', () => {
    const dir = tempDir();
    const printed = redactToken(planGooseSetup(inputs(dir)).providerFile.content, TOKEN);
    assert.ok(!printed.includes(TOKEN));
    assert.match(printed, /Bearer sb-local-…\(redacted\)/);
  });
});

describe('goose paths and URLs', () => {
  it("finds Goose's config dir the way Goose does", () => {
    assert.equal(gooseConfigDir({ env: { GOOSE_PATH_ROOT: '/srv/goose' }, platform: 'linux', home: '/home/a' }), '/srv/goose/config');
    assert.equal(gooseConfigDir({ env: {}, platform: 'linux', home: '/home/a' }), '/home/a/.config/goose');
    assert.equal(gooseConfigDir({ env: {}, platform: 'darwin', home: '/Users/a' }), '/Users/a/.config/goose');
    assert.equal(gooseConfigDir({ env: { XDG_CONFIG_HOME: '/xdg' }, platform: 'linux', home: '/home/a' }), '/xdg/goose');
    assert.equal(gooseConfigDir({ env: { XDG_CONFIG_HOME: 'relative' }, platform: 'linux', home: '/home/a' }), '/home/a/.config/goose');
    assert.equal(
      gooseConfigDir({ env: { APPDATA: 'C:\\Users\\a\\AppData\\Roaming' }, platform: 'win32', home: 'C:\\Users\\a' }),
      'C:\\Users\\a\\AppData\\Roaming\\Block\\goose\\config',
    );
  });

  it('derives base_url with the /goose/v1 prefix exactly once', () => {
    assert.equal(gooseBaseUrl('http://127.0.0.1:8787'), 'http://127.0.0.1:8787/goose/v1');
    assert.equal(gooseBaseUrl('http://127.0.0.1:8787/'), 'http://127.0.0.1:8787/goose/v1');
    assert.equal(gooseBaseUrl('http://127.0.0.1:8787/goose/v1/'), 'http://127.0.0.1:8787/goose/v1');
  });

  it('writes into a nested custom_providers dir that does not exist yet', () => {
    const dir = join(tempDir(), 'profile', 'config');
    mkdirSync(dir, { recursive: true });
    applyGooseSetup(planGooseSetup(inputs(dir)));
    assert.ok(existsSync(join(dir, 'custom_providers', 'switchboard.json')));
  });
});
