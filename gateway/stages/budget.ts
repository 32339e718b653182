/**
 * Budget stages.
 *
 * budgetCheck (before downshift): works out which budgets apply to the caller (config budgets
 * overlaid with the policy's), records the pressure in ctx.notes.budget (downshift rules read
 * `state: 'soft'`), and refuses with 402 when a hard limit is already reached.
 *
 * budgetReserve (after downshift, right before forward): asks a streaming upstream for usage,
 * prices the worst case of this request on the model actually sent (prompt estimate + maximum
 * output) and reserves it in the ledger. Near a limit, the output is capped to what the budget
 * still pays for (at least `minOutputTokens`), else 402. The meter settles the reservation to
 * the actual cost when the request finishes.
 *
 * With org budgets (`cost.org`, gateway/cost/org-allowance.ts) budgetReserve also takes the same
 * worst case from the caller's controller lease — without a round trip while the lease has room —
 * and the meter settles both. Local budgets are checked first, so a request refused locally
 * never draws on the org.
 *
 * 402, not 429: Goose retries 429 after the server's hint; 402 surfaces as "credits exhausted".
 * Messages avoid the phrases Goose reads as "context too long" (which would start compaction).
 */
import type { JsonObject, JsonValue, RequestContext, Stage } from '../context.js';
import { GatewayError } from '../errors.js';
import type { EffectivePolicy } from '../../policies/types.js';
import type { ModelPrice, ModelRegistry } from '../../models/registry.js';
import { encodingForModel } from '../../models/tokens.js';
import { estimatePromptTokens, promptTokensUpperBound } from '../cost/token-estimates.js';
import { budgetsFor, mergeBudgetPolicies, parseBudgetPolicy, BudgetConfigError, type ActiveBudget, type BudgetPolicy } from '../../policies/budgets.js';
import type { BudgetLedger, BudgetStanding } from '../cost/ledger.js';
import { unknownModelPrice, type CostConfig } from '../cost/config.js';
import { formatUsd } from '../cost/pricing.js';
import { costState, type RequestCostState } from '../cost/request-state.js';
import { capMaxTokens, requestedMaxTokens } from './downshift.js';
import type { OrgAllowance } from '../cost/org-allowance.js';

export interface BudgetStageDeps {
  ledger: BudgetLedger;
  /** Org budgets drawn from the controller (absent: local budgets only). */
  allowance?: OrgAllowance;
  registry: ModelRegistry;
  config: CostConfig;
  /** Shared by both stages so a policy's budgets are validated once. */
  resolver?: BudgetResolver;
}

/**
 * Non-OpenAI families are estimated with cl100k_base, which tends to count fewer tokens than
 * their own tokenizers; near a limit their estimate is scaled up by this much to stay on the
 * safe side.
 */
const FOREIGN_TOKENIZER_MARGIN = 1.25;

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function scopeLabel(b: ActiveBudget): string {
  switch (b.scope.kind) {
    case 'tenant':
      return `tenant "${b.scope.tenantId}"`;
    case 'role':
      return `role "${b.scope.role}"`;
    case 'user':
      return `user "${b.scope.userId}"`;
  }
}

export interface BudgetHeaderFacts {
  scopeKey: string;
  window: string;
  limitUsd: number;
  remainingUsd: number;
  resetsAt?: number;
}

export function budgetHeaders(s: BudgetHeaderFacts): Record<string, string> {
  return {
    'x-switchboard-budget-limit': formatUsd(s.limitUsd),
    'x-switchboard-budget-remaining': formatUsd(Math.max(0, s.remainingUsd)),
    'x-switchboard-budget-window': s.window,
    'x-switchboard-budget-scope': s.scopeKey,
    ...(s.resetsAt !== undefined ? { 'x-switchboard-budget-reset': new Date(s.resetsAt).toISOString() } : {}),
  };
}

function standingHeaders(s: BudgetStanding): Record<string, string> {
  return budgetHeaders({ scopeKey: s.budget.scopeKey, window: s.budget.window, limitUsd: s.budget.limitUsd, remainingUsd: s.remainingUsd, resetsAt: s.resetsAt });
}

function refuse(ctx: RequestContext, stage: string, s: BudgetStanding, message: string): never {
  ctx.notes.denied = { stage, reason: `budget ${s.budget.window} ${s.budget.scope.kind} limit` };
  throw new GatewayError(402, message, 'insufficient_quota', 'budget_limit_reached', standingHeaders(s));
}

/** Resolves the budgets for a request: config overlaid with the policy's (validated once per policy). */
export class BudgetResolver {
  private readonly perPolicy = new WeakMap<EffectivePolicy, BudgetPolicy | undefined>();

  constructor(private readonly configured: BudgetPolicy | undefined) {}

  policyFor(policy: EffectivePolicy | undefined): BudgetPolicy | undefined {
    if (!policy || policy.budgets === undefined) return this.configured;
    if (this.perPolicy.has(policy)) return this.perPolicy.get(policy);
    let fromPolicy: BudgetPolicy;
    try {
      fromPolicy = parseBudgetPolicy(policy.budgets, 'policy.budgets');
    } catch (err) {
      // Fail closed: a broken budgets section must not mean "no limits".
      const detail = err instanceof BudgetConfigError ? err.message : String(err);
      throw new GatewayError(503, `The budgets in policy version ${policy.version} are invalid (${detail}); ask your administrator to fix the policy`, 'server_error', 'invalid_budget_policy');
    }
    const merged = mergeBudgetPolicies(this.configured, fromPolicy);
    this.perPolicy.set(policy, merged);
    return merged;
  }

  budgetsFor(ctx: RequestContext): ActiveBudget[] {
    if (!ctx.caller) return [];
    return budgetsFor(this.policyFor(ctx.policy), ctx.caller);
  }
}

function mostPressing(standings: BudgetStanding[]): BudgetStanding | undefined {
  let worst: BudgetStanding | undefined;
  for (const s of standings) {
    const ratio = (s.spentUsd + s.reservedUsd) / s.budget.limitUsd;
    if (!worst || ratio > (worst.spentUsd + worst.reservedUsd) / worst.budget.limitUsd) worst = s;
  }
  return worst;
}

export function budgetCheckStage(deps: BudgetStageDeps): Stage {
  const resolver = deps.resolver ?? new BudgetResolver(deps.config.budgets);
  return {
    name: 'budgetCheck',
    phase: 'request',
    run(ctx: RequestContext) {
      const budgets = resolver.budgetsFor(ctx);
      if (budgets.length === 0) return;
      costState(ctx).budgets = budgets;
      const standings = deps.ledger.standings(budgets);
      const worst = mostPressing(standings)!;
      const anyHard = standings.find((s) => s.state === 'hard');
      const anySoft = standings.some((s) => s.state === 'soft');
      const shown = anyHard ?? worst;
      ctx.notes.budget = {
        state: anyHard ? 'hard' : anySoft ? 'soft' : 'ok',
        scope: shown.budget.scopeKey,
        window: shown.budget.window,
        spentUsd: shown.spentUsd,
        limitUsd: shown.budget.limitUsd,
      };
      if (anyHard) {
        const b = anyHard.budget;
        refuse(
          ctx,
          'budgetCheck',
          anyHard,
          `Budget limit reached: the ${b.window} budget for ${scopeLabel(b)} is $${formatUsd(b.limitUsd)} and ` +
            `$${formatUsd(anyHard.spentUsd + anyHard.reservedUsd)} is already spent or reserved. It resets at ` +
            `${new Date(anyHard.resetsAt).toISOString()}. Ask your administrator if you need a higher budget.`,
        );
      }
    },
  };
}

/** Asks an OpenAI-style streaming upstream to append a usage chunk, remembering whether the client asked. */
export function requestStreamUsage(ctx: RequestContext): void {
  const body = ctx.body;
  if (!ctx.stream || ctx.format !== 'openai' || ctx.route !== 'chat' || !body) return;
  const so = body.stream_options;
  const wants = isObject(so) && so.include_usage === true;
  costState(ctx).clientWantsStreamUsage = wants;
  if (!wants) body.stream_options = { ...(isObject(so) ? so : {}), include_usage: true };
}

export function budgetReserveStage(deps: BudgetStageDeps): Stage {
  const resolver = deps.resolver ?? new BudgetResolver(deps.config.budgets);
  const res = deps.config.reservation;
  const unknownPrice: ModelPrice = unknownModelPrice(res);
  return {
    name: 'budgetReserve',
    phase: 'request',
    run(ctx: RequestContext) {
      requestStreamUsage(ctx);
      const state = costState(ctx);
      const budgets = state.budgets ?? resolver.budgetsFor(ctx);
      const body = ctx.body;
      const allowance = deps.allowance;
      if (!body || (budgets.length === 0 && !allowance)) return;

      const model = typeof body.model === 'string' ? body.model : (ctx.requestedModel ?? '');
      const info = deps.registry.get(model);
      const price: ModelPrice = info ?? unknownPrice;
      const explicitMax = requestedMaxTokens(body);
      const maxOut = explicitMax ?? info?.maxCompletionTokens ?? res.defaultMaxOutputTokens;
      const worstFor = (promptTokens: number, outTokens: number) => promptTokens * price.promptUsdPerToken + outTokens * price.completionUsdPerToken;

      let worstUsd: number;
      if (budgets.length > 0) {
        state.budgets = budgets;
        worstUsd = reserveLocally(ctx, state, budgets, { model, price, maxOut, worstFor });
      } else {
        const estimate = estimatePromptTokens(body, ctx.route, model);
        const foreign = encodingForModel(model) === 'cl100k_base' && !model.startsWith('openai/') && !model.startsWith('gpt-');
        worstUsd = worstFor(Math.ceil(estimate * (foreign ? FOREIGN_TOKENIZER_MARGIN : 1)), maxOut);
      }
      if (!allowance || !ctx.caller) return;
      // Across the org: the same worst case from the caller's lease (the meter settles both).
      return allowance.reserve(ctx.caller, worstUsd).then(
        (hold) => {
          state.allowance = hold;
        },
        (err: unknown) => {
          if (err instanceof GatewayError) ctx.notes.denied = { stage: 'budgetReserve', reason: 'org budget' };
          throw err;
        },
      );
    },
  };

  /** Reserves against the local budgets (capping output near a limit) or refuses; returns the amount reserved. */
  function reserveLocally(
    ctx: RequestContext,
    state: RequestCostState,
    budgets: ActiveBudget[],
    p: { model: string; price: ModelPrice; maxOut: number; worstFor: (promptTokens: number, outTokens: number) => number },
  ): number {
    const body = ctx.body!;
    const { model, price, maxOut, worstFor } = p;
    // Cheap bound first (bytes ≥ tokens); tokenize only when the bound does not fit.
    let promptTokens = promptTokensUpperBound(body, ctx.route);
    let attempt = deps.ledger.reserve(budgets, worstFor(promptTokens, maxOut));
    if (!attempt.ok) {
      const estimate = estimatePromptTokens(body, ctx.route, model);
      const foreign = encodingForModel(model) === 'cl100k_base' && !model.startsWith('openai/') && !model.startsWith('gpt-');
      promptTokens = Math.min(promptTokens, Math.ceil(estimate * (foreign ? FOREIGN_TOKENIZER_MARGIN : 1)));
      attempt = deps.ledger.reserve(budgets, worstFor(promptTokens, maxOut));
    }
    if (!attempt.ok) {
      const blocking = attempt.blocking;
      const promptCost = worstFor(promptTokens, 0);
      const affordable =
        price.completionUsdPerToken > 0 ? Math.floor((blocking.remainingUsd - promptCost) / price.completionUsdPerToken) : maxOut;
      if (affordable >= res.minOutputTokens && affordable < maxOut) {
        attempt = deps.ledger.reserve(budgets, worstFor(promptTokens, affordable));
        if (attempt.ok) {
          capMaxTokens(body, affordable);
          state.cappedMaxTokens = affordable;
        }
      }
    }
    if (!attempt.ok) {
      const b = attempt.blocking.budget;
      refuse(
        ctx,
        'budgetReserve',
        attempt.blocking,
        `Budget limit reached: this request could cost up to $${formatUsd(worstFor(promptTokens, maxOut))} with model ${model || '(none)'}, ` +
          `but only $${formatUsd(Math.max(0, attempt.blocking.remainingUsd))} of the ${b.window} budget for ${scopeLabel(b)} is left ` +
          `(it resets at ${new Date(attempt.blocking.resetsAt).toISOString()}). Try a cheaper model or a shorter answer, ` +
          'or ask your administrator for a higher budget.',
      );
    }
    state.reservation = attempt.reservation;
    let tightest: BudgetStanding | undefined;
    for (const s of attempt.standings) if (!tightest || s.remainingUsd < tightest.remainingUsd) tightest = s;
    if (tightest) {
      state.tightest = { scopeKey: tightest.budget.scopeKey, window: tightest.budget.window, limitUsd: tightest.budget.limitUsd, remainingUsd: tightest.remainingUsd, resetsAt: tightest.resetsAt };
    }
    return attempt.reservation.amountUsd;
  }
}
