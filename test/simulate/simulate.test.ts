import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { faker } from '@faker-js/faker';
import { parse as parseYaml } from 'yaml';
import type { UsageRecord } from '../../models/usage-record.js';
import { UsageStore } from '../../models/usage-store.js';
import { loadModelRegistry, type ModelPrice } from '../../models/registry.js';
import { openGatewayDb } from '../../platform/sqlite.js';
import { DownshiftRules, registryLookup } from '../../policies/downshift/rules.js';
import { parseWindow, simulateRules, type SimulationReport } from '../../policies/downshift/simulate.js';
import { parseDownshiftRules } from '../../policies/downshift/load.js';
import { runSimulation } from '../../bin/commands/rules.js';
import { CliError } from '../../bin/cli-support.js';

const run = promisify(execFile);
const DAY = 86_400_000;

const CANDIDATE = `
version: 1
tiers:
  economy: google/gemini-2.5-flash
rules:
  - id: aux-to-flash
    match: { taskKinds: [compaction, title] }
    action: { tier: economy, maxTokens: 500 }
  - id: finance-opus
    match: { roles: [finance], models: ["anthropic/claude-opus-*"] }
    action: { model: anthropic/claude-sonnet-4 }
  - id: nobody
    match: { roles: [no-such-role] }
    action: { tier: economy }
`;

function record(over: Partial<UsageRecord>): UsageRecord {
  return {
    id: faker.string.uuid(),
    ts: Date.now(),
    tenantId: 'acme',
    userId: 'u1',
    role: 'engineering',
    taskKind: 'chat',
    route: 'chat',
    modelRequested: 'anthropic/claude-sonnet-4',
    modelUsed: 'anthropic/claude-sonnet-4',
    promptTokens: 1000,
    completionTokens: 100,
    cachedTokens: 0,
    costUsd: 0,
    estimated: false,
    latencyMs: 100,
    status: 200,
    cacheHit: false,
    ...over,
  };
}

describe('what-if simulator (hand-computed example)', () => {
  const registry = loadModelRegistry();
  const rules = new DownshiftRules(parseDownshiftRules(parseYaml(CANDIDATE), 't'), registryLookup(registry));

  it('prices caught requests at the substitute model and keeps the rest at the requested model', () => {
    // Prices from the shipped snapshot: sonnet-4 $3/$15 per MTok, flash $0.30/$2.50, opus-4 $15/$75.
    const records = [
      // compaction on sonnet: 10,000 in / 2,000 out → caught by aux-to-flash, output capped to 500.
      record({ taskKind: 'compaction', promptTokens: 10_000, completionTokens: 2_000, costUsd: 0.06 }),
      // finance on opus: 1,000 in / 1,000 out → sonnet.
      record({ role: 'finance', modelRequested: 'anthropic/claude-opus-4', modelUsed: 'anthropic/claude-opus-4', promptTokens: 1_000, completionTokens: 1_000, costUsd: 0.09 }),
      // chat on sonnet, uncaught: projected = its actual cost.
      record({ costUsd: 0.0045 }),
      // was downshifted by the old rules (opus → flash); the candidate has no rule for it, so it goes back to opus (baseline).
      record({ modelRequested: 'anthropic/claude-opus-4', modelUsed: 'google/gemini-2.5-flash', costUsd: 0.00055, baselineCostUsd: 0.0225, downshiftRule: 'old' }),
      // a cache hit and a failure pass through unchanged.
      record({ taskKind: 'compaction', cacheHit: true, costUsd: 0 }),
      record({ taskKind: 'compaction', status: 502, costUsd: 0, promptTokens: 0, completionTokens: 0 }),
    ];
    const r = simulateRules(records, rules, (id) => registry.get(id), { assumeBudget: 'ok' });
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);
    assert.equal(r.records, 6);
    assert.equal(r.passedThrough, 2);
    const aux = r.rules.find((p) => p.rule === 'aux-to-flash')!;
    assert.equal(aux.requests, 1);
    close(aux.actualUsd, 0.06);
    close(aux.projectedUsd, 10_000 * 0.3e-6 + 500 * 2.5e-6); // 0.00425
    close(aux.savingUsd, 0.06 - 0.00425);
    assert.deepEqual(aux.models, { 'google/gemini-2.5-flash': 1 });
    const fin = r.rules.find((p) => p.rule === 'finance-opus')!;
    close(fin.projectedUsd, 1_000 * 3e-6 + 1_000 * 15e-6); // 0.018
    assert.equal(r.rules.find((p) => p.rule === 'nobody')!.requests, 0);
    assert.equal(r.uncaught.requests, 2);
    close(r.uncaught.actualUsd, 0.0045 + 0.00055);
    close(r.uncaught.projectedUsd, 0.0045 + 0.0225);
    close(r.actualUsd, 0.06 + 0.09 + 0.0045 + 0.00055);
    close(r.projectedUsd, 0.00425 + 0.018 + 0.0045 + 0.0225);
    close(r.savingUsd, r.actualUsd - r.projectedUsd);
    assert.match(r.caveat, /Quality is not simulated/);
  });

  it('counts unpriced substitutes instead of inventing a saving', () => {
    const odd = new DownshiftRules(parseDownshiftRules({ version: 1, rules: [{ id: 'x', match: {}, action: { model: 'acme/unknown-model' } }] }, 't'), registryLookup(registry));
    const r = simulateRules([record({ costUsd: 0.0045 })], odd, (id) => registry.get(id), { assumeBudget: 'ok' });
    assert.equal(r.unpriced, 1);
    assert.equal(r.rules[0]!.requests, 1);
    assert.equal(r.savingUsd, 0);
  });

  it('parses windows', () => {
    assert.equal(parseWindow('30d'), 30 * DAY);
    assert.equal(parseWindow('90m'), 90 * 60_000);
    assert.equal(parseWindow('2w'), 14 * DAY);
    assert.equal(parseWindow('0d'), undefined);
    assert.equal(parseWindow('30'), undefined);
    assert.equal(parseWindow('d30'), undefined);
  });
});

describe('switchboard rules simulate on generated usage history', () => {
  const registry = loadModelRegistry();
  let dir: string;
  let rulesFile: string;
  const history: UsageRecord[] = [];
  const now = Date.now();
  const models = ['anthropic/claude-sonnet-4', 'anthropic/claude-opus-4', 'google/gemini-2.5-flash', 'openai/gpt-4o'];
  const price = (id: string): ModelPrice => registry.get(id)!;
  const cost = (p: ModelPrice, prompt: number, cached: number, completion: number) =>
    (prompt - cached) * p.promptUsdPerToken + cached * (p.cacheReadUsdPerToken ?? p.promptUsdPerToken) + completion * p.completionUsdPerToken;

  before(() => {
    faker.seed(4242);
    dir = mkdtempSync(join(tmpdir(), 'sb-simulate-'));
    rulesFile = join(dir, 'candidate.yaml');
    writeFileSync(rulesFile, CANDIDATE);
    const db = openGatewayDb(join(dir, 'gateway.db'));
    const store = new UsageStore(db, { batch: false });
    for (let i = 0; i < 400; i++) {
      const model = faker.helpers.arrayElement(models);
      const prompt = faker.number.int({ min: 50, max: 60_000 });
      const cached = faker.datatype.boolean(0.3) ? faker.number.int({ min: 0, max: prompt }) : 0;
      const completion = faker.number.int({ min: 1, max: 4_000 });
      const r = record({
        ts: now - faker.number.int({ min: 60_000, max: 45 * DAY }),
        role: faker.helpers.arrayElement(['engineering', 'finance', 'sales']),
        taskKind: faker.helpers.arrayElement(['chat', 'chat', 'chat', 'compaction', 'title', 'permission']),
        modelRequested: model,
        modelUsed: model,
        promptTokens: prompt,
        cachedTokens: cached,
        completionTokens: completion,
        costUsd: cost(price(model), prompt, cached, completion),
        cacheHit: faker.datatype.boolean(0.05),
        status: faker.datatype.boolean(0.03) ? 500 : 200,
      });
      if (r.cacheHit) r.costUsd = 0;
      history.push(r);
      store.record(r);
    }
    store.close();
    db.close();
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** The expected report, computed straight from the generated rows without the simulator's code. */
  function expected(sinceMs: number) {
    const out = { records: 0, passedThrough: 0, actual: 0, projected: 0, perRule: new Map<string, { n: number; actual: number; projected: number }>() };
    for (const id of ['aux-to-flash', 'finance-opus', 'nobody']) out.perRule.set(id, { n: 0, actual: 0, projected: 0 });
    for (const r of history) {
      if (r.ts < now - sinceMs) continue;
      out.records++;
      out.actual += r.costUsd;
      if (r.cacheHit || r.status !== 200) {
        out.passedThrough++;
        out.projected += r.costUsd;
        continue;
      }
      let rule: string | undefined;
      let projected = r.costUsd;
      if (r.taskKind === 'compaction' || r.taskKind === 'title') {
        rule = 'aux-to-flash';
        projected = cost(price('google/gemini-2.5-flash'), r.promptTokens, r.cachedTokens, Math.min(r.completionTokens, 500));
      } else if (r.role === 'finance' && r.modelRequested === 'anthropic/claude-opus-4') {
        rule = 'finance-opus';
        projected = cost(price('anthropic/claude-sonnet-4'), r.promptTokens, r.cachedTokens, r.completionTokens);
      }
      out.projected += projected;
      if (rule) {
        const slot = out.perRule.get(rule)!;
        slot.n++;
        slot.actual += r.costUsd;
        slot.projected += projected;
      }
    }
    return out;
  }

  it('--format json gives the independently computed numbers for a 30-day window', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bin/switchboard.ts', 'rules', 'simulate', '--rules', rulesFile, '--since', '30d', '--format', 'json', '--data-dir', dir]);
    const report = JSON.parse(stdout) as SimulationReport;
    const want = expected(30 * DAY);
    assert.ok(want.records > 200 && want.records < 400, 'the window cuts the history');
    assert.equal(report.records, want.records);
    assert.equal(report.passedThrough, want.passedThrough);
    const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-9, `${a} != ${b}`);
    close(report.actualUsd, want.actual);
    close(report.projectedUsd, want.projected);
    close(report.savingUsd, want.actual - want.projected);
    for (const p of report.rules) {
      const w = want.perRule.get(p.rule)!;
      assert.equal(p.requests, w.n, p.rule);
      close(p.actualUsd, w.actual);
      close(p.projectedUsd, w.projected);
    }
    assert.ok(report.rules.find((p) => p.rule === 'aux-to-flash')!.savingUsd > 0);
    assert.equal(report.rules.find((p) => p.rule === 'nobody')!.requests, 0);
  });

  it('the table names every rule, the totals and the quality caveat', async () => {
    const stdout = runSimulation({ rules: rulesFile, since: '45d', format: 'table', assumeBudget: 'ok', dataDir: dir });
    const want = expected(45 * DAY);
    assert.match(stdout, new RegExp(`Replayed ${want.records} recorded requests from the last 45d`));
    for (const id of ['aux-to-flash', 'finance-opus', 'nobody', '(no rule)']) assert.ok(stdout.includes(id), id);
    assert.match(stdout, /Total: actual \$[\d.]+, projected \$[\d.]+, saving \$[\d.]+ \([\d.]+%\)/);
    assert.match(stdout, /Caveat: Quality is not simulated/);
  });

  it('a data dir without usage is a one-line user error', () => {
    const empty = mkdtempSync(join(tmpdir(), 'sb-simulate-empty-'));
    try {
      assert.throws(() => runSimulation({ rules: rulesFile, since: '30d', format: 'table', assumeBudget: 'ok', dataDir: empty }), (err: unknown) => err instanceof CliError && /no recorded usage/.test(err.message));
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
