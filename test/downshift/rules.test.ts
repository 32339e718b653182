import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DownshiftRulesError, loadDownshiftRulesFile, parseDownshiftRules } from '../../policies/downshift/load.js';
import { DownshiftRules, type DownshiftFacts } from '../../policies/downshift/rules.js';
import type { ModelTier } from '../../policies/downshift/types.js';

const tiers: Record<string, ModelTier> = {
  'anthropic/claude-opus-4': 'premium',
  'anthropic/claude-sonnet-4': 'standard',
  'google/gemini-2.5-flash': 'economy',
  'openai/gpt-4o-mini': 'economy',
};
const lookup = (id: string) => (tiers[id] ? { tier: tiers[id] } : undefined);

function facts(over: Partial<DownshiftFacts> = {}): DownshiftFacts {
  return {
    role: 'engineering',
    taskKind: 'chat',
    model: 'anthropic/claude-sonnet-4',
    promptTokens: () => 1000,
    budget: 'ok',
    now: Date.UTC(2026, 10, 25, 12, 0), // Wednesday 12:00 UTC
    ...over,
  };
}

function problemsOf(data: unknown): string[] {
  try {
    parseDownshiftRules(data, 'rules.yaml');
  } catch (err) {
    assert.ok(err instanceof DownshiftRulesError);
    return err.problems;
  }
  assert.fail('expected the rules to be rejected');
}

describe('downshift rule files', () => {
  it('the shipped example file is valid', () => {
    const file = fileURLToPath(new URL('../../policies/downshift/default-rules.yaml', import.meta.url));
    const set = loadDownshiftRulesFile(file);
    assert.equal(set.version, 1);
    assert.ok(set.rules.length >= 3);
  });

  it('schema errors name the key, with list indexes as [n]', () => {
    const problems = problemsOf({
      version: 1,
      rules: [
        { id: 'ok', match: {}, action: { maxTokens: 10 } },
        { id: 'bad', match: { budget: ['panic'] }, action: { maxTokens: 0 }, colour: 'red' },
      ],
    });
    assert.ok(problems.some((p) => p.startsWith('rules[1].match.budget[0]: must be one of')), problems.join('\n'));
    assert.ok(problems.some((p) => p.startsWith('rules[1].action.maxTokens: must be >= 1')), problems.join('\n'));
    assert.ok(problems.includes('rules[1].colour: unknown key'), problems.join('\n'));
  });

  it('rejects what the schema cannot see: duplicate ids, undefined tiers, model+tier, bad ranges and zones', () => {
    const problems = problemsOf({
      version: 1,
      tiers: { economy: 'google/gemini-2.5-flash' },
      rules: [
        { id: 'a', match: { promptTokens: { min: 10, max: 5 } }, action: { tier: 'standard' } },
        { id: 'a', match: { timeWindow: { timezone: 'Mars/Olympus' } }, action: { tier: 'economy', model: 'x/y' } },
      ],
    });
    assert.deepEqual(problems, [
      'rules[0].action.tier: no model is set for tier "standard" in the top-level tiers map',
      'rules[0].match.promptTokens: min (10) is greater than max (5)',
      'rules[1].id: "a" is already used by rules[0]',
      'rules[1].action: give either model or tier, not both',
      'rules[1].match.timeWindow.timezone: unknown time zone "Mars/Olympus" (use an IANA name such as "Europe/Berlin" or "UTC")',
    ]);
  });

  it('reports unreadable and non-YAML files as one line each', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-rules-'));
    try {
      assert.throws(() => loadDownshiftRulesFile(join(dir, 'missing.yaml')), /missing\.yaml: invalid downshift rules\n {2}- file not found/);
      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, 'rules: [\n  - id: x\n    match: {');
      assert.throws(() => loadDownshiftRulesFile(bad), /not valid YAML/);
      const empty = join(dir, 'empty.yaml');
      writeFileSync(empty, '');
      assert.throws(() => loadDownshiftRulesFile(empty), /\(top level\): must have required property 'version'/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('downshift rule matching', () => {
  const set = parseDownshiftRules(
    {
      version: 1,
      tiers: { economy: 'google/gemini-2.5-flash', standard: 'anthropic/claude-sonnet-4' },
      rules: [
        { id: 'off', enabled: false, match: {}, action: { tier: 'economy' } },
        { id: 'compaction', match: { taskKinds: ['compaction', 'title'] }, action: { tier: 'economy', maxTokens: 2048 } },
        { id: 'finance-soft', match: { roles: ['finance'], budget: ['soft', 'hard'] }, action: { tier: 'economy' } },
        { id: 'opus-big', match: { models: ['anthropic/claude-opus-*'], promptTokens: { min: 50000 } }, action: { tier: 'standard' } },
        { id: 'night', match: { timeWindow: { days: ['sat', 'sun'], from: '22:00', to: '06:00', timezone: 'Europe/Berlin' } }, action: { maxTokens: 256 } },
        { id: 'to-premium', match: { roles: ['research'] }, action: { model: 'anthropic/claude-opus-4', maxTokens: 1000 } },
      ],
    },
    'test',
  );
  const rules = new DownshiftRules(set, lookup);

  it('skips disabled rules and takes the first match', () => {
    assert.deepEqual(rules.ruleIds, ['compaction', 'finance-soft', 'opus-big', 'night', 'to-premium']);
    const d = rules.decide(facts({ taskKind: 'compaction', role: 'finance', budget: 'soft' }), 8192);
    assert.equal(d?.rule, 'compaction');
    assert.equal(d?.model, 'google/gemini-2.5-flash');
    assert.equal(d?.maxTokens, 2048);
    assert.match(d!.reason, /task compaction → tier economy \(google\/gemini-2\.5-flash\); max tokens 8192→2048/);
  });

  it('matches on role and budget pressure together', () => {
    assert.equal(rules.decide(facts({ role: 'finance', budget: 'ok' })), undefined);
    assert.equal(rules.decide(facts({ role: 'finance', budget: undefined })), undefined);
    assert.equal(rules.decide(facts({ role: 'finance', budget: 'soft' }))?.rule, 'finance-soft');
    assert.equal(rules.decide(facts({ role: 'sales', budget: 'soft' })), undefined);
  });

  it('asks for the prompt size only when the cheaper conditions already hold', () => {
    let asked = 0;
    const count = (n: number) => () => {
      asked++;
      return n;
    };
    assert.equal(rules.decide(facts({ model: 'anthropic/claude-sonnet-4', promptTokens: count(90000) })), undefined);
    assert.equal(asked, 0);
    assert.equal(rules.decide(facts({ model: 'anthropic/claude-opus-4', promptTokens: count(49999) })), undefined);
    assert.equal(rules.decide(facts({ model: 'anthropic/claude-opus-4', promptTokens: count(50000) }))?.model, 'anthropic/claude-sonnet-4');
    assert.equal(asked, 2);
  });

  it('evaluates overnight time windows in the rule time zone, by local weekday', () => {
    // Saturday 23:30 in Berlin (UTC+1 in November) = 22:30 UTC.
    assert.equal(rules.decide(facts({ now: Date.UTC(2026, 10, 28, 22, 30) }))?.rule, 'night');
    // Sunday 05:59 Berlin = 04:59 UTC.
    assert.equal(rules.decide(facts({ now: Date.UTC(2026, 10, 29, 4, 59) }))?.rule, 'night');
    // Sunday 06:00 Berlin: window closed.
    assert.equal(rules.decide(facts({ now: Date.UTC(2026, 10, 29, 5, 0) })), undefined);
    // Saturday 21:30 UTC = 22:30 Berlin → in; 21:00 UTC = 22:00 Berlin → in; 20:59 UTC → out.
    assert.equal(rules.decide(facts({ now: Date.UTC(2026, 10, 28, 21, 0) }))?.rule, 'night');
    assert.equal(rules.decide(facts({ now: Date.UTC(2026, 10, 28, 20, 59) })), undefined);
    // Monday 01:00 Berlin: time fits but the day does not.
    assert.equal(rules.decide(facts({ now: Date.UTC(2026, 10, 30, 0, 0) })), undefined);
  });

  it('never moves a request to a more expensive tier, but still applies the cap', () => {
    const d = rules.decide(facts({ role: 'research', model: 'openai/gpt-4o-mini' }), 4000);
    assert.equal(d?.rule, 'to-premium');
    assert.equal(d?.model, undefined);
    assert.equal(d?.maxTokens, 1000);
    assert.match(d!.reason, /kept openai\/gpt-4o-mini \(not cheaper than anthropic\/claude-opus-4\)/);
  });

  it('a match that changes nothing is reported without model or cap', () => {
    const d = rules.decide(facts({ taskKind: 'title', model: 'google/gemini-2.5-flash' }), 100);
    assert.equal(d?.rule, 'compaction');
    assert.equal(d?.model, undefined);
    assert.equal(d?.maxTokens, undefined);
  });

  it('substitutes when the registry does not know one of the models', () => {
    const d = rules.decide(facts({ taskKind: 'compaction', model: 'someone/unknown-model' }));
    assert.equal(d?.model, 'google/gemini-2.5-flash');
  });

  it('model globs match case-insensitively and only the whole id', () => {
    const r = new DownshiftRules(parseDownshiftRules({ version: 1, rules: [{ id: 'g', match: { models: ['openai/gpt-5*'] }, action: { model: 'openai/gpt-4o-mini' } }] }, 't'));
    assert.equal(r.decide(facts({ model: 'OpenAI/GPT-5.1' }))?.rule, 'g');
    assert.equal(r.decide(facts({ model: 'x/openai/gpt-5' })), undefined);
    assert.equal(r.decide(facts({ model: 'openai/gpt-4o' })), undefined);
  });
});

describe('downshift "cheaper" check', () => {
  const set = parseDownshiftRules({ version: 1, rules: [{ id: 'r', match: {}, action: { model: 'b/cheap-premium' } }] }, 't');
  it('uses prices when the registry has them, so a cheaper model in the same tier is allowed', () => {
    const priced = new DownshiftRules(set, (id) => ({ tier: 'premium', blendedUsdPerMTok: id === 'b/cheap-premium' ? 6 : 30 }));
    assert.equal(priced.decide(facts({ model: 'a/pricey' }))?.model, 'b/cheap-premium');
    const dearer = new DownshiftRules(set, (id) => ({ tier: 'premium', blendedUsdPerMTok: id === 'b/cheap-premium' ? 6 : 5 }));
    assert.equal(dearer.decide(facts({ model: 'a/pricey' }))?.model, undefined);
    const tiersOnly = new DownshiftRules(set, () => ({ tier: 'premium' }));
    assert.equal(tiersOnly.decide(facts({ model: 'a/pricey' }))?.model, undefined, 'same tier without prices: kept');
  });
});
