import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkRules } from '../../bin/commands/rules.js';
import { CliError } from '../../bin/cli-support.js';
import { ConfigError, loadConfigFile } from '../../bin/config.js';

const dir = mkdtempSync(join(tmpdir(), 'sb-rules-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('switchboard rules check', () => {
  it('accepts the shipped example', () => {
    const out = checkRules('policies/downshift/default-rules.yaml', { dataDir: dir });
    assert.equal(out, 'policies/downshift/default-rules.yaml: OK (4 rules, 3 enabled)\n');
  });

  it('warns about models the registry does not know or puts in another tier', () => {
    const file = join(dir, 'warn.yaml');
    writeFileSync(file, 'version: 1\ntiers: { economy: anthropic/claude-opus-4 }\nrules:\n  - { id: a, match: {}, action: { model: acme/secret-model } }\n');
    const out = checkRules(file, { dataDir: dir });
    assert.match(out, /OK \(1 rules, 1 enabled\)/);
    assert.match(out, /warning: tiers\.economy: model "anthropic\/claude-opus-4" is tier premium in the registry/);
    assert.match(out, /warning: rules\[0\]\.action\.model: "acme\/secret-model" is not in the model registry/);
  });

  it('a broken file is a CliError listing every problem by key', () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'version: 2\nrules:\n  - { id: "has space", match: { weekday: mon }, action: {} }\n');
    assert.throws(
      () => checkRules(file, { dataDir: dir }),
      (err: unknown) => {
        assert.ok(err instanceof CliError);
        assert.match(err.message, /version: must be equal to constant/);
        assert.match(err.message, /rules\[0\]\.id: must match pattern/);
        assert.match(err.message, /rules\[0\]\.match\.weekday: unknown key/);
        assert.match(err.message, /rules\[0\]\.action: must NOT have fewer than 1 properties/);
        return true;
      },
    );
  });
});

describe('gateway.cache and gateway.downshift config', () => {
  it('validates the sections, naming the key', () => {
    const file = join(dir, 'switchboard.yaml');
    writeFileSync(file, 'gateway:\n  cache: { mode: sometimes, ttlSeconds: 0, colour: red }\n  downshift: { rulesFile: "" }\n');
    assert.throws(
      () => loadConfigFile(file),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        const text = err.problems.join('\n');
        assert.match(text, /gateway\.cache\.mode: must be one of "deterministic", "always", "off" \(got "sometimes"\)/);
        assert.match(text, /gateway\.cache\.ttlSeconds: must be >= 1/);
        assert.match(text, /gateway\.cache\.colour: unknown key/);
        assert.match(text, /gateway\.downshift\.rulesFile: must NOT have fewer than 1 characters/);
        return true;
      },
    );
  });

  it('passes valid sections through', () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, 'gateway:\n  cache: { mode: always, memoryMegabytes: 8 }\n  downshift: { rulesFile: rules.yaml }\n');
    const config = loadConfigFile(file);
    assert.deepEqual(config.gateway.cache, { mode: 'always', memoryMegabytes: 8 });
    assert.deepEqual(config.gateway.downshift, { rulesFile: 'rules.yaml' });
  });
});
