import { describe, it, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GatewayResponse, JsonObject, SseEvent } from '../../gateway/context.js';
import { GatewayError } from '../../gateway/errors.js';
import { openGatewayDb, type GatewayDb } from '../../platform/sqlite.js';
import { loadModelRegistry } from '../../models/registry.js';
import { UsageStore } from '../../models/usage-store.js';
import { BudgetLedger } from '../../gateway/cost/ledger.js';
import { budgetsFor, type BudgetPolicy } from '../../policies/budgets.js';
import { defaultCostConfig, resolveCostConfig, unknownModelPrice as unknownPriceOf } from '../../gateway/cost/config.js';
import { readUsage, priceUsage } from '../../gateway/cost/pricing.js';
import { mentionsUsage, meterSseEvents, UsageMeter } from '../../gateway/cost/usage-meter.js';
import { budgetCheckStage, budgetReserveStage } from '../../gateway/stages/budget.js';
import { meterStage } from '../../gateway/stages/meter.js';
import { fakeContext } from '../downshift/fake-context.js';

async function* eventsOf(list: SseEvent[]): AsyncGenerator<SseEvent> {
  for (const e of list) yield e;
}

async function collect(it: AsyncIterable<SseEvent>): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

describe('usage parsing and pricing', () => {
  it('reads OpenAI/OpenRouter and Anthropic usage', () => {
    assert.deepEqual(readUsage({ prompt_tokens: 100, completion_tokens: 5, prompt_tokens_details: { cached_tokens: 60 }, cost: 0.002 }), {
      promptTokens: 100, completionTokens: 5, cachedTokens: 60, cacheWriteTokens: 0, reportedCostUsd: 0.002,
    });
    // Anthropic input_tokens excludes cache reads/writes: they are added back to the prompt total.
    assert.deepEqual(readUsage({ input_tokens: 10, output_tokens: 3, cache_read_input_tokens: 500, cache_creation_input_tokens: 40 }), {
      promptTokens: 550, completionTokens: 3, cachedTokens: 500, cacheWriteTokens: 40,
    });
    assert.equal(readUsage(null), undefined);
    assert.equal(readUsage({ total_tokens: 3 }), undefined);
  });

  it('prices cache reads and writes at their own rates', () => {
    const price = { promptUsdPerToken: 3e-6, completionUsdPerToken: 15e-6, cacheReadUsdPerToken: 0.3e-6, cacheWriteUsdPerToken: 3.75e-6 };
    const cost = priceUsage({ promptTokens: 550, completionTokens: 3, cachedTokens: 500, cacheWriteTokens: 40 }, price);
    assert.ok(Math.abs(cost - (10 * 3e-6 + 500 * 0.3e-6 + 40 * 3.75e-6 + 3 * 15e-6)) < 1e-15);
  });

  it('spots usage in a chunk without parsing, ignoring usage: null', () => {
    assert.equal(mentionsUsage('{"choices":[],"usage":{"prompt_tokens":1}}'), true);
    assert.equal(mentionsUsage('{"choices":[{"delta":{}}],"usage": null}'), false);
    assert.equal(mentionsUsage('{"choices":[{"delta":{"content":"the \\"usage\\": field"}}]}'), false);
    assert.equal(mentionsUsage('{"usage" : {"x":1}}'), true);
  });

  it('hides the usage-only chunk and strips usage from a content chunk when asked', async () => {
    const meter = new UsageMeter();
    const out = await collect(
      meterSseEvents(
        eventsOf([
          { data: '{"choices":[{"delta":{"content":"a"}}],"usage":null}' },
          { data: '{"choices":[{"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":4,"completion_tokens":1}}' },
          { data: '{"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"cost":0.5},"model":"m/x"}' },
          { comment: ' keep-alive' },
          { data: '[DONE]' },
        ]),
        meter,
        true,
      ),
    );
    assert.deepEqual(out.map((e) => e.data ?? `:${e.comment}`), [
      '{"choices":[{"delta":{"content":"a"}}],"usage":null}',
      '{"choices":[{"delta":{},"finish_reason":"stop"}]}',
      ': keep-alive',
      '[DONE]',
    ]);
    assert.deepEqual(meter.usage, { promptTokens: 4, completionTokens: 2, cachedTokens: 0, cacheWriteTokens: 0, reportedCostUsd: 0.5 });
    assert.equal(meter.answeredModel, 'm/x');
    assert.equal(meter.dataEvents, 4);
  });
});

describe('budget and meter stages', () => {
  let dir: string;
  let db: GatewayDb;
  let store: UsageStore;
  const registry = loadModelRegistry();
  const unknownModelPrice = unknownPriceOf(defaultCostConfig().reservation);
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-stages-'));
    db = openGatewayDb(join(dir, 'gateway.db'));
    store = new UsageStore(db);
  });
  afterEach(() => {
    store.close();
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  function deps(budgets: object, spent = 0) {
    const config = resolveCostConfig({ budgets });
    const ledger = new BudgetLedger(() => spent);
    return { config, ledger, registry };
  }

  it('budgetCheck records pressure for downshift rules', () => {
    const d = deps({ perUser: { daily: { limitUsd: 10, softLimitUsd: 5 } } }, 6);
    const ctx = fakeContext({ body: { model: 'openai/gpt-4o', messages: [] } });
    budgetCheckStage(d).run(ctx);
    assert.deepEqual(ctx.notes.budget, { state: 'soft', scope: 'user:acme/u1', window: 'daily', spentUsd: 6, limitUsd: 10 });
  });

  it('budgetReserve caps the output to what the remaining budget pays for, or refuses with 402', () => {
    const d = deps({ tenant: { daily: { limitUsd: 1 } } }, 0.99);
    const body: JsonObject = { model: 'openai/gpt-4o', max_tokens: 4000, messages: [{ role: 'user', content: 'hi' }] };
    const ctx = fakeContext({ body });
    budgetReserveStage(d).run(ctx);
    // $0.01 left at $10/M output → just under 1000 tokens after the prompt.
    assert.ok(typeof body.max_tokens === 'number' && body.max_tokens < 1000 && body.max_tokens > 900, String(body.max_tokens));

    const d2 = deps({ tenant: { daily: { limitUsd: 1 } } }, 0.9999);
    const ctx2 = fakeContext({ body: { model: 'openai/gpt-4o', max_tokens: 4000, messages: [{ role: 'user', content: 'hi' }] } });
    assert.throws(() => budgetReserveStage(d2).run(ctx2), (e: unknown) => {
      assert.ok(e instanceof GatewayError);
      assert.equal(e.status, 402);
      assert.match(e.message, /could cost up to \$0\.04\d+ with model openai\/gpt-4o, but only \$0\.000100 of the daily budget for tenant "acme" is left/);
      return true;
    });
    assert.deepEqual(ctx2.notes.denied, { stage: 'budgetReserve', reason: 'budget daily tenant limit' });
  });

  it('an invalid budgets section in a policy fails closed with 503', () => {
    const d = deps({ tenant: { daily: { limitUsd: 1 } } });
    const ctx = fakeContext({ body: { model: 'openai/gpt-4o', messages: [] } });
    // A bundle can carry anything; the gateway must not trust the declared type.
    const budgets = JSON.parse('{"tenant":{"daily":{"limitUsd":"lots"}}}') as BudgetPolicy;
    ctx.policy = { role: 'engineering', version: 'v7', guard: {} as never, budgets };
    assert.throws(() => budgetCheckStage(d).run(ctx), (e: unknown) => e instanceof GatewayError && e.status === 503 && /policy version v7/.test(e.message));
  });

  it('meter settles the reservation to the actual cost and records a cache hit at zero cost with its baseline', async () => {
    const d = deps({ perUser: { daily: { limitUsd: 10 } } });
    const ctx = fakeContext({ body: { model: 'openai/gpt-4o', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] } });
    budgetReserveStage(d).run(ctx);
    assert.ok(d.ledger.standings(budgetsOf(d, ctx))[0]!.reservedUsd > 0);
    ctx.response = { kind: 'json', status: 200, headers: {}, body: { choices: [], usage: { prompt_tokens: 10, completion_tokens: 2, cost: 0.25 } } };
    ctx.upstream = { name: 'primary', attempts: 1, ms: 5, model: 'openai/gpt-4o' };
    meterStage({ registry, store, ledger: d.ledger, unknownModelPrice }).run(ctx);
    assert.equal((ctx.response as Extract<GatewayResponse, { kind: 'json' }>).headers['x-switchboard-cost-usd'], '0.2500');
    await ctx.finish();
    const [s] = d.ledger.standings(budgetsOf(d, ctx));
    assert.deepEqual([s!.reservedUsd, s!.spentUsd], [0, 0.25]);
    assert.equal(ctx.notes.costUsd, 0.25);

    const hit = fakeContext({ body: { model: 'openai/gpt-4o', messages: [] } });
    hit.notes.cache = 'hit';
    hit.response = { kind: 'json', status: 200, headers: {}, body: { choices: [], usage: { prompt_tokens: 1000, completion_tokens: 100 } } };
    meterStage({ registry, store, unknownModelPrice }).run(hit);
    await hit.finish();
    const records = [...store.records({ since: 0 })];
    const cached = records.find((r) => r.cacheHit)!;
    assert.equal(cached.costUsd, 0);
    assert.ok(Math.abs(cached.baselineCostUsd! - (1000 * 2.5e-6 + 100 * 10e-6)) < 1e-12);
  });

  it('meter prices a downshifted request against the requested model for the savings baseline', async () => {
    const ctx = fakeContext({ body: { model: 'google/gemini-2.5-flash', messages: [] } });
    ctx.notes.downshift = { from: 'anthropic/claude-sonnet-4', to: 'google/gemini-2.5-flash', rule: 'summaries', reason: 'task summary' };
    ctx.upstream = { name: 'primary', attempts: 1, ms: 5, model: 'google/gemini-2.5-flash' };
    ctx.response = { kind: 'json', status: 200, headers: {}, body: { usage: { prompt_tokens: 1000, completion_tokens: 100 } } };
    meterStage({ registry, store, unknownModelPrice }).run(ctx);
    await ctx.finish();
    const [r] = [...store.records({ since: 0 })];
    assert.equal(r!.downshiftRule, 'summaries');
    assert.ok(Math.abs(r!.costUsd - (1000 * 0.3e-6 + 100 * 2.5e-6)) < 1e-12);
    assert.ok(Math.abs(r!.baselineCostUsd! - (1000 * 3e-6 + 100 * 15e-6)) < 1e-12);
  });

  it('meter prices a model the registry does not know at the reserved unknown-model price, as an estimate', async () => {
    const d = deps({ perUser: { daily: { limitUsd: 10 } } });
    const ctx = fakeContext({ body: { model: 'acme/private-model-x', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] } });
    budgetReserveStage(d).run(ctx);
    ctx.upstream = { name: 'primary', attempts: 1, ms: 5, model: 'acme/private-model-x' };
    ctx.response = { kind: 'json', status: 200, headers: {}, body: { choices: [], usage: { prompt_tokens: 1000, completion_tokens: 100 } } };
    meterStage({ registry, store, ledger: d.ledger, unknownModelPrice }).run(ctx);
    await ctx.finish();
    const [r] = [...store.records({ since: 0 })];
    const expected = 1000 * unknownModelPrice.promptUsdPerToken + 100 * unknownModelPrice.completionUsdPerToken;
    assert.ok(expected > 0);
    assert.ok(Math.abs(r!.costUsd - expected) < 1e-12, String(r!.costUsd));
    assert.equal(r!.estimated, true);
    const [s] = d.ledger.standings(budgetsOf(d, ctx));
    assert.ok(Math.abs(s!.spentUsd - expected) < 1e-12, 'the budget is charged what was metered');
  });

  it('defaults are sane', () => {
    const c = defaultCostConfig();
    assert.equal(c.budgets, undefined);
    assert.ok(c.usageRetentionDays > 365);
    assert.ok(c.reservation.minOutputTokens < c.reservation.defaultMaxOutputTokens);
  });
});

function budgetsOf(d: { config: ReturnType<typeof resolveCostConfig> }, ctx: { caller?: { tenantId: string; userId: string; role: string } }) {
  return budgetsFor(d.config.budgets, ctx.caller!);
}
