import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TIER_RULES, ModelRegistry, loadModelRegistry, tierForPrice } from '../../models/registry.js';
import { ModelListingError, parseModelListing, readModelListing, REFRESHED_LISTING_FILE, storeModelListing } from '../../models/model-listing.js';

describe('model registry', () => {
  it('ships a dated snapshot of OpenRouter models with prices and context', () => {
    const registry = loadModelRegistry();
    assert.equal(registry.source.kind, 'snapshot');
    assert.match(registry.source.takenAt, /^\d{4}-\d{2}-\d{2}$/);
    assert.ok(registry.size >= 40, `only ${registry.size} models`);
    const sonnet = registry.get('anthropic/claude-sonnet-4');
    assert.ok(sonnet);
    assert.equal(sonnet.promptUsdPerToken, 0.000003);
    assert.equal(sonnet.completionUsdPerToken, 0.000015);
    assert.equal(sonnet.cacheReadUsdPerToken, 0.0000003);
    assert.ok(sonnet.contextLength! >= 200_000);
    for (const id of ['google/gemini-2.5-flash', 'openai/gpt-4o-mini', 'openai/gpt-5', 'meta-llama/llama-3.3-70b-instruct']) {
      assert.ok(registry.get(id), `${id} missing`);
    }
  });

  it('derives tiers from price: premium, standard, economy', () => {
    const r = loadModelRegistry();
    assert.equal(r.tierOf('anthropic/claude-sonnet-4'), 'premium');
    assert.equal(r.tierOf('anthropic/claude-opus-4.1'), 'premium');
    assert.equal(r.tierOf('openai/gpt-4o'), 'standard');
    assert.equal(r.tierOf('anthropic/claude-haiku-4.5'), 'standard');
    assert.equal(r.tierOf('openai/gpt-4o-mini'), 'economy');
    assert.equal(r.tierOf('google/gemini-2.5-flash'), 'economy');
    assert.equal(r.tierOf('no-such/model'), undefined);
    // Cheapest first within a tier.
    const economy = r.inTier('economy');
    for (let i = 1; i < economy.length; i++) {
      const blended = (m: (typeof economy)[number]) => 3 * m.promptUsdPerToken + m.completionUsdPerToken;
      assert.ok(blended(economy[i - 1]!) <= blended(economy[i]!));
    }
  });

  it('lets config override tiers and thresholds, and prices local models at zero', () => {
    const r = loadModelRegistry({
      rules: { overrides: { 'openai/gpt-4o': 'premium' }, localModels: ['qwen2.5-coder:7b'], economyBelowUsdPerMTok: 0.5 },
    });
    assert.equal(r.tierOf('openai/gpt-4o'), 'premium');
    assert.equal(r.get('openai/gpt-4o')!.tierFrom, 'override');
    assert.equal(r.tierOf('google/gemini-2.5-flash'), 'standard', 'blended 0.85 $/M is no longer economy under 0.5');
    const local = r.get('qwen2.5-coder:7b');
    assert.ok(local);
    assert.equal(local.tier, 'local');
    assert.equal(local.promptUsdPerToken, 0);
    assert.equal(r.tierOf('ollama/llama3.2'), 'local');
    assert.equal(tierForPrice({ promptUsdPerToken: 0, completionUsdPerToken: 0 }, DEFAULT_TIER_RULES), 'economy', 'free cloud models are economy, not local');
  });

  it('resolves ids as callers send them: bare names, date and variant suffixes', () => {
    const r = loadModelRegistry();
    assert.equal(r.get('gpt-4o-mini')?.id, 'openai/gpt-4o-mini');
    assert.equal(r.get('claude-sonnet-4-20250514')?.id, 'anthropic/claude-sonnet-4');
    assert.equal(r.get('anthropic/claude-sonnet-4:nitro')?.id, 'anthropic/claude-sonnet-4');
    assert.equal(r.get('openai/gpt-4o-2024-08-06')?.id, 'openai/gpt-4o');
    assert.equal(r.get('totally-unknown'), undefined);
  });

  it('does not resolve an ambiguous bare name', () => {
    const r = new ModelRegistry([
      { id: 'a/same', promptUsdPerToken: 1e-6, completionUsdPerToken: 1e-6 },
      { id: 'b/same', promptUsdPerToken: 2e-6, completionUsdPerToken: 2e-6 },
    ]);
    assert.equal(r.get('same'), undefined);
    assert.equal(r.get('b/same')?.promptUsdPerToken, 2e-6);
  });
});

describe('model listings', () => {
  it('parses OpenRouter /models shape and skips entries without a usable price', () => {
    const parsed = parseModelListing({
      data: [
        { id: 'x/priced', context_length: 8192, pricing: { prompt: '0.000001', completion: '0.000002', input_cache_read: '0.0000001' }, top_provider: { max_completion_tokens: 4096 } },
        { id: 'openrouter/auto', pricing: { prompt: '-1', completion: '-1' } },
        { id: 'x/no-pricing' },
      ],
    });
    assert.deepEqual(parsed.skipped, ['openrouter/auto', 'x/no-pricing']);
    assert.deepEqual(parsed.models, [
      { id: 'x/priced', promptUsdPerToken: 0.000001, completionUsdPerToken: 0.000002, cacheReadUsdPerToken: 0.0000001, contextLength: 8192, maxCompletionTokens: 4096 },
    ]);
  });

  it('rejects something that is not a listing with a clear reason', () => {
    assert.throws(() => parseModelListing({ models: [] }), (e: unknown) => e instanceof ModelListingError && /data/.test(e.message));
    assert.throws(() => parseModelListing({ data: [{ id: 'a', pricing: { prompt: 'cheap' } }] }), ModelListingError);
  });

  it('prefers a refreshed listing under the data dir, and falls back to the snapshot when it is damaged', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-registry-'));
    try {
      storeModelListing(dir, { data: [{ id: 'acme/only-model', context_length: 1000, pricing: { prompt: '0.00001', completion: '0.00002' } }] }, 'http://x/v1/models', new Date('2026-11-01T00:00:00Z'));
      const r = loadModelRegistry({ dataDir: dir });
      assert.equal(r.source.kind, 'refreshed');
      assert.equal(r.source.takenAt, '2026-11-01T00:00:00.000Z');
      assert.equal(r.size, 1);
      assert.equal(r.get('acme/only-model')?.tier, 'premium');

      writeFileSync(join(dir, REFRESHED_LISTING_FILE), '{"data": "nope"');
      const problems: string[] = [];
      const listing = readModelListing(dir, (m) => problems.push(m));
      assert.equal(listing.source.kind, 'snapshot');
      assert.equal(problems.length, 1);
      mkdirSync(join(dir, 'empty'), { recursive: true });
      assert.equal(readModelListing(join(dir, 'empty')).source.kind, 'snapshot');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
