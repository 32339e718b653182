/**
 * Model registry: prices (USD per token), context length and tier for every model the gateway
 * may price. Built from an OpenRouter-shaped `/models` listing — the one `switchboard models
 * refresh` stored under the data dir, else the snapshot shipped in models/snapshot/.
 *
 * Tiers are derived from price unless overridden: a blended price (3 prompt : 1 completion,
 * the input-heavy mix of agent traffic) at or above `premiumFromUsdPerMTok` is premium, below
 * `economyBelowUsdPerMTok` economy, otherwise standard. Models served locally (listed in
 * `localModels` or with a local provider prefix) are tier `local` and cost nothing.
 */
import { MODEL_TIERS, type ModelTier } from '../policies/downshift/types.js';
import { readModelListing, type ListedModel, type ModelListingSource } from './model-listing.js';

export { MODEL_TIERS, type ModelTier };

export interface ModelPrice {
  promptUsdPerToken: number;
  completionUsdPerToken: number;
  /** Price of a prompt token read from the provider's prompt cache; absent = same as prompt. */
  cacheReadUsdPerToken?: number;
  /** Price of a prompt token written to the cache (Anthropic, Gemini); absent = same as prompt. */
  cacheWriteUsdPerToken?: number;
}

export interface ModelInfo extends ModelPrice {
  id: string;
  name?: string;
  contextLength?: number;
  /** Largest completion the provider allows, when the listing says. */
  maxCompletionTokens?: number;
  tier: ModelTier;
  /** How the tier was decided, shown by `switchboard models list`. */
  tierFrom: 'price' | 'override' | 'local';
}

export interface TierRules {
  /** Blended USD per million tokens at or above which a model is premium. */
  premiumFromUsdPerMTok: number;
  /** Blended USD per million tokens below which a model is economy. */
  economyBelowUsdPerMTok: number;
  /** Explicit tier per model id; wins over price. */
  overrides: Record<string, ModelTier>;
  /** Model ids served by a local upstream (e.g. Ollama): tier local, zero price. */
  localModels: string[];
}

export const DEFAULT_TIER_RULES: TierRules = {
  premiumFromUsdPerMTok: 5,
  economyBelowUsdPerMTok: 1,
  overrides: {},
  localModels: [],
};

/** Provider prefixes that always mean "runs on this machine". */
const LOCAL_PREFIXES = ['ollama/', 'local/', 'lmstudio/'];

/** JSON Schema of the `tiers` settings (part of the `cost:` config section). */
export const tierRulesSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    premiumFromUsdPerMTok: { type: 'number', minimum: 0 },
    economyBelowUsdPerMTok: { type: 'number', minimum: 0 },
    overrides: { type: 'object', additionalProperties: { enum: [...MODEL_TIERS] } },
    localModels: { type: 'array', items: { type: 'string', minLength: 1 } },
  },
} as const;

/** Blended USD per million tokens used for tiering. */
export function blendedUsdPerMTok(price: ModelPrice): number {
  return ((3 * price.promptUsdPerToken + price.completionUsdPerToken) / 4) * 1e6;
}

export function tierForPrice(price: ModelPrice, rules: TierRules): ModelTier {
  const blended = blendedUsdPerMTok(price);
  if (blended >= rules.premiumFromUsdPerMTok) return 'premium';
  if (blended < rules.economyBelowUsdPerMTok) return 'economy';
  return 'standard';
}

function isLocalId(id: string, localSet: ReadonlySet<string>): boolean {
  return localSet.has(id) || LOCAL_PREFIXES.some((p) => id.startsWith(p));
}

/** Anthropic-API style date suffixes ("-20250514") and OpenRouter variants (":nitro"). */
const DATE_SUFFIX = /-(\d{8}|\d{4}-\d{2}-\d{2})$/;
const VARIANT_SUFFIX = /:(nitro|floor|online|thinking|beta|extended)$/;

export class ModelRegistry {
  private readonly byId = new Map<string, ModelInfo>();
  /** "gpt-4o-mini" → "openai/gpt-4o-mini", only when the bare name is unambiguous. */
  private readonly byBareName = new Map<string, string | null>();
  /** Resolution results for ids seen in traffic (bounded: ids come from callers). */
  private readonly resolved = new Map<string, ModelInfo | null>();
  private readonly localSet: ReadonlySet<string>;

  constructor(
    models: readonly ListedModel[],
    readonly rules: TierRules = DEFAULT_TIER_RULES,
    readonly source: ModelListingSource = { kind: 'snapshot', takenAt: 'unknown', path: '' },
  ) {
    this.localSet = new Set(rules.localModels);
    for (const m of models) this.add(m);
    for (const id of rules.localModels) {
      if (!this.byId.has(id)) this.add({ id, promptUsdPerToken: 0, completionUsdPerToken: 0 });
    }
  }

  private add(m: ListedModel): void {
    const override = this.rules.overrides[m.id];
    const local = isLocalId(m.id, this.localSet);
    const price: ModelPrice = local
      ? { promptUsdPerToken: 0, completionUsdPerToken: 0 }
      : {
          promptUsdPerToken: m.promptUsdPerToken,
          completionUsdPerToken: m.completionUsdPerToken,
          ...(m.cacheReadUsdPerToken !== undefined ? { cacheReadUsdPerToken: m.cacheReadUsdPerToken } : {}),
          ...(m.cacheWriteUsdPerToken !== undefined ? { cacheWriteUsdPerToken: m.cacheWriteUsdPerToken } : {}),
        };
    const info: ModelInfo = {
      id: m.id,
      ...(m.name ? { name: m.name } : {}),
      ...(m.contextLength ? { contextLength: m.contextLength } : {}),
      ...(m.maxCompletionTokens ? { maxCompletionTokens: m.maxCompletionTokens } : {}),
      ...price,
      tier: override ?? (local ? 'local' : tierForPrice(price, this.rules)),
      tierFrom: override ? 'override' : local ? 'local' : 'price',
    };
    this.byId.set(m.id, info);
    const slash = m.id.indexOf('/');
    if (slash > 0) {
      const bare = m.id.slice(slash + 1);
      this.byBareName.set(bare, this.byBareName.has(bare) && this.byBareName.get(bare) !== m.id ? null : m.id);
    }
  }

  /** Every model, sorted by id. */
  list(): ModelInfo[] {
    return [...this.byId.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  get size(): number {
    return this.byId.size;
  }

  /**
   * The model for an id as callers send it: exact, then without an OpenRouter variant suffix
   * or a date suffix, then a bare name ("gpt-4o-mini") matched to its provider-prefixed id.
   */
  get(id: string): ModelInfo | undefined {
    const hit = this.resolved.get(id);
    if (hit !== undefined) return hit ?? undefined;
    const found = this.resolve(id);
    if (this.resolved.size >= 4096) this.resolved.clear();
    this.resolved.set(id, found ?? null);
    return found;
  }

  private resolve(id: string): ModelInfo | undefined {
    const exact = this.byId.get(id);
    if (exact) return exact;
    if (isLocalId(id, this.localSet)) {
      return { id, promptUsdPerToken: 0, completionUsdPerToken: 0, tier: this.rules.overrides[id] ?? 'local', tierFrom: 'local' };
    }
    const candidates = [id.replace(VARIANT_SUFFIX, ''), id.replace(DATE_SUFFIX, '')];
    for (const c of candidates) {
      if (c !== id) {
        const m = this.byId.get(c) ?? this.viaBareName(c);
        if (m) return m;
      }
    }
    return this.viaBareName(id);
  }

  private viaBareName(id: string): ModelInfo | undefined {
    if (id.includes('/')) return undefined;
    const full = this.byBareName.get(id);
    return full ? this.byId.get(full) : undefined;
  }

  /** Tier of a model id, or undefined when the registry does not know it (downshift's TierOf). */
  tierOf = (id: string): ModelTier | undefined => this.get(id)?.tier;

  /** Models of one tier, cheapest first (for tier → model maps). */
  inTier(tier: ModelTier): ModelInfo[] {
    return this.list()
      .filter((m) => m.tier === tier)
      .sort((a, b) => blendedUsdPerMTok(a) - blendedUsdPerMTok(b));
  }
}

export interface LoadRegistryOptions {
  /** Data dir root: a refreshed listing at <dataDir>/models/openrouter-models.json wins over the snapshot. */
  dataDir?: string;
  rules?: Partial<TierRules>;
}

export function loadModelRegistry(opts: LoadRegistryOptions = {}): ModelRegistry {
  const listing = readModelListing(opts.dataDir);
  const rules: TierRules = { ...DEFAULT_TIER_RULES, ...opts.rules };
  return new ModelRegistry(listing.models, rules, listing.source);
}
