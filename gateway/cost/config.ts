/**
 * The `cost:` section of switchboard.yaml: usage retention, tier rules, budgets and how the
 * worst case of a request is priced for budget reservations.
 */
import { DEFAULT_TIER_RULES, tierRulesSchema, type ModelPrice, type TierRules } from '../../models/registry.js';
import { budgetsSchema, parseBudgetPolicy, type BudgetPolicy } from '../../policies/budgets.js';
import { defaultOrgBudgetConfig, orgBudgetConfigSchema, type OrgBudgetConfig } from './org-allowance.js';

export interface ReservationConfig {
  /** Output tokens assumed when neither the request nor the registry gives a maximum. */
  defaultMaxOutputTokens: number;
  /**
   * Near a hard limit, a request is still let through with its output capped to what the
   * remaining budget pays for, if that is at least this many tokens; otherwise it gets 402.
   */
  minOutputTokens: number;
  /** Prices assumed for models the registry does not know (USD per million tokens). */
  unknownModelUsdPerMTok: { prompt: number; completion: number };
}

export interface CostConfig {
  /** Usage records older than this many days are deleted; 0 keeps them forever. */
  usageRetentionDays: number;
  tiers: TierRules;
  budgets?: BudgetPolicy;
  reservation: ReservationConfig;
  /** Org budgets held by the controller: leases, strict mode, offline allowance (gateway/cost/org-allowance.ts). */
  org: OrgBudgetConfig;
}

export function defaultCostConfig(): CostConfig {
  return {
    org: defaultOrgBudgetConfig(),
    usageRetentionDays: 400,
    tiers: { ...DEFAULT_TIER_RULES },
    reservation: { defaultMaxOutputTokens: 16_384, minOutputTokens: 256, unknownModelUsdPerMTok: { prompt: 15, completion: 75 } },
  };
}

/** The price reserved — and metered, flagged as an estimate — for a model the registry does not know. */
export function unknownModelPrice(reservation: ReservationConfig): ModelPrice {
  return {
    promptUsdPerToken: reservation.unknownModelUsdPerMTok.prompt / 1e6,
    completionUsdPerToken: reservation.unknownModelUsdPerMTok.completion / 1e6,
  };
}

const positiveInt = { type: 'integer', minimum: 1 } as const;

export const costConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    usageRetentionDays: { type: 'integer', minimum: 0 },
    tiers: tierRulesSchema,
    budgets: budgetsSchema,
    org: orgBudgetConfigSchema,
    reservation: {
      type: 'object',
      additionalProperties: false,
      properties: {
        defaultMaxOutputTokens: positiveInt,
        minOutputTokens: positiveInt,
        unknownModelUsdPerMTok: {
          type: 'object',
          additionalProperties: false,
          required: ['prompt', 'completion'],
          properties: { prompt: { type: 'number', minimum: 0 }, completion: { type: 'number', minimum: 0 } },
        },
      },
    },
  },
} as const;

export interface CostConfigInput {
  usageRetentionDays?: number;
  tiers?: Partial<TierRules>;
  budgets?: unknown;
  reservation?: Partial<ReservationConfig>;
  org?: Partial<OrgBudgetConfig>;
}

/** Defaults overlaid with a (schema-validated) `cost:` section; throws BudgetConfigError on bad budgets. */
export function resolveCostConfig(input: CostConfigInput | undefined): CostConfig {
  const base = defaultCostConfig();
  if (!input) return base;
  const budgets = input.budgets === undefined ? undefined : parseBudgetPolicy(input.budgets, 'cost.budgets');
  return {
    usageRetentionDays: input.usageRetentionDays ?? base.usageRetentionDays,
    tiers: { ...base.tiers, ...input.tiers },
    ...(budgets ? { budgets } : {}),
    reservation: { ...base.reservation, ...input.reservation },
    org: { ...base.org, ...input.org },
  };
}
