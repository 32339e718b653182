/**
 * meter (response stage): reads token usage from the response as it passes (non-stream
 * `usage`, or the usage events of a stream — hiding the usage chunk the gateway asked for on
 * the client's behalf), and when the request has finished:
 * - prices it: OpenRouter's `usage.cost` when present, else registry price × tokens (a model
 *   missing from the registry at the reserved unknown-model price, flagged `estimated`); with no
 *   usage at all, a tiktoken estimate flagged `estimated`;
 * - adds the estimated prompt cost of every earlier attempt the upstream may have run (body sent,
 *   then the connection was lost or it answered 500), also flagged `estimated`;
 * - sets ctx.notes.usage / ctx.notes.costUsd, settles the budget reservation to the actual cost;
 * - queues one usage record (tenant, user, role, session/task, models, tokens, cost, latency,
 *   cache hit, downshift and the baseline cost used for savings reports). The record's id is
 *   made here, never taken from the caller; the request id (x-request-id) is kept beside it.
 * The per-chunk path only does a substring check; everything else runs in the finish hook.
 */
import { randomUUID } from 'node:crypto';
import type { GatewayResponse, JsonObject, JsonValue, RequestContext, RequestOutcome, Stage } from '../context.js';
import type { ModelInfo, ModelPrice, ModelRegistry } from '../../models/registry.js';
import { estimateCompletionTokens, estimatePromptTokens } from '../cost/token-estimates.js';
import type { UsageStore } from '../../models/usage-store.js';
import type { UsageRecord } from '../../models/usage-record.js';
import type { BudgetLedger } from '../cost/ledger.js';
import { formatUsd, priceUsage, type TokenUsage } from '../cost/pricing.js';
import { peekCostState, type RequestCostState } from '../cost/request-state.js';
import { UsageMeter, meterSseEvents } from '../cost/usage-meter.js';
import { budgetHeaders } from './budget.js';
import type { OrgAllowance } from '../cost/org-allowance.js';

export interface MeterStageDeps {
  registry: ModelRegistry;
  store: UsageStore;
  ledger?: BudgetLedger;
  /** Org budgets: the lease hold is settled to the actual cost and the record names its lease. */
  allowance?: OrgAllowance;
  /** Price for models missing from the registry: the one budgetReserve reserved at. */
  unknownModelPrice: ModelPrice;
}

/** Session and task headers read for metering (documented in docs/cost.md). */
export const TASK_KIND_HEADER = 'x-switchboard-task-kind';

function header(ctx: RequestContext, name: string): string | undefined {
  const v = ctx.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s && s.length <= 200 ? s : undefined;
}

function clientAskedForStreamUsage(body: JsonObject | undefined): boolean {
  const so = body?.stream_options;
  return typeof so === 'object' && so !== null && !Array.isArray(so) && so.include_usage === true;
}

/**
 * Data events in a stream that carry no completion text: OpenAI's role chunk, finish chunk and
 * [DONE]; Anthropic's message_start, block start/stop, message_delta and message_stop.
 */
function framingEvents(format: RequestContext['format']): number {
  return format === 'anthropic' ? 5 : 3;
}

export interface PricedUsage {
  usage: TokenUsage;
  costUsd: number;
  estimated: boolean;
}

/**
 * Cost of usage on a model: the upstream's reported cost, else price × tokens; a model missing
 * from the registry is priced at `unknownPrice` (what was reserved for it) and flagged.
 */
export function priceFor(usage: TokenUsage, info: ModelInfo | undefined, estimated: boolean, unknownPrice: ModelPrice): PricedUsage {
  if (usage.reportedCostUsd !== undefined) return { usage, costUsd: usage.reportedCostUsd, estimated };
  if (info) return { usage, costUsd: priceUsage(usage, info), estimated };
  const costUsd = priceUsage(usage, unknownPrice);
  return { usage, costUsd, estimated: estimated || usage.promptTokens + usage.completionTokens > 0 };
}

export function meterStage(deps: MeterStageDeps): Stage {
  const { registry, store, ledger, allowance, unknownModelPrice } = deps;

  function modelUsed(ctx: RequestContext): string {
    if (ctx.upstream?.model) return ctx.upstream.model;
    const m = ctx.body?.model;
    return typeof m === 'string' ? m : (ctx.requestedModel ?? '');
  }

  function measure(ctx: RequestContext, res: GatewayResponse, meter: UsageMeter, model: string): PricedUsage {
    const info = registry.get(model);
    if (meter.usage) return priceFor(meter.usage, info, false, unknownModelPrice);
    // No usage reported: estimate only when a model actually produced (part of) an answer.
    const answered = res.status < 400 && (ctx.upstream !== undefined || ctx.notes.cache === 'hit');
    if (!answered || !ctx.body) return { usage: { promptTokens: 0, completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0 }, costUsd: 0, estimated: false };
    const promptTokens = estimatePromptTokens(ctx.body, ctx.route, model);
    const completionTokens =
      res.kind === 'json' ? estimateCompletionTokens(res.body, ctx.route, model) : Math.max(0, meter.dataEvents - framingEvents(ctx.format));
    return priceFor({ promptTokens, completionTokens, cachedTokens: 0, cacheWriteTokens: 0 }, info, true, unknownModelPrice);
  }

  /** Earlier attempts the upstream may have run: each counted at the prompt estimate (their output is unknown). */
  function uncertainAttempts(ctx: RequestContext, priced: PricedUsage): PricedUsage {
    const n = ctx.upstream?.uncertainAttempts ?? 0;
    if (n === 0 || !ctx.body) return priced;
    // Priced on the model in the request (what the failed attempts carried), not a fallback's.
    const model = typeof ctx.body.model === 'string' ? ctx.body.model : (ctx.requestedModel ?? '');
    const promptTokens = estimatePromptTokens(ctx.body, ctx.route, model) * n;
    const extra = priceFor({ promptTokens, completionTokens: 0, cachedTokens: 0, cacheWriteTokens: 0 }, registry.get(model), true, unknownModelPrice);
    const usage = { ...priced.usage, promptTokens: priced.usage.promptTokens + promptTokens };
    return { usage, costUsd: priced.costUsd + extra.costUsd, estimated: true };
  }

  function baselineCost(ctx: RequestContext, priced: PricedUsage): number | undefined {
    if (ctx.notes.cache === 'hit') return priced.costUsd;
    const from = ctx.notes.downshift?.from;
    if (!from) return undefined;
    const info = registry.get(from);
    if (!info) return undefined;
    const { reportedCostUsd: _ignored, ...tokens } = priced.usage;
    return priceUsage(tokens, info);
  }

  function finish(ctx: RequestContext, res: GatewayResponse, meter: UsageMeter, state: RequestCostState | undefined, outcome: RequestOutcome): void {
    const model = modelUsed(ctx);
    const cacheHit = ctx.notes.cache === 'hit';
    let priced: PricedUsage;
    let costUsd = 0;
    let leaseId: string | undefined;
    try {
      priced = uncertainAttempts(ctx, measure(ctx, res, meter, model));
      costUsd = cacheHit ? 0 : priced.costUsd;
    } finally {
      // Settled even when measuring failed, so a reservation never lingers.
      if (state?.reservation && ledger) ledger.settle(state.reservation, costUsd);
      if (state?.allowance && allowance) leaseId = allowance.settle(state.allowance, costUsd);
    }
    ctx.notes.usage = {
      promptTokens: priced.usage.promptTokens,
      completionTokens: priced.usage.completionTokens,
      cachedTokens: priced.usage.cachedTokens,
      estimated: priced.estimated,
    };
    ctx.notes.costUsd = costUsd;

    const caller = ctx.caller;
    if (!caller || ctx.route === 'models') return;
    const baseline = baselineCost(ctx, priced);
    const sessionId = caller.sessionId;
    const taskId = caller.taskId;
    const taskKind = ctx.notes.taskKind ?? header(ctx, TASK_KIND_HEADER);
    const record: UsageRecord = {
      // Made here: a caller-chosen id must never name (and so replace) another record.
      id: randomUUID(),
      requestId: ctx.id,
      ts: Math.round(performance.timeOrigin + ctx.receivedAt),
      tenantId: caller.tenantId,
      userId: caller.userId,
      role: caller.role,
      ...(sessionId ? { sessionId } : {}),
      ...(taskId ? { taskId } : {}),
      ...(taskKind ? { taskKind } : {}),
      route: ctx.route,
      modelRequested: ctx.requestedModel ?? model,
      modelUsed: model,
      promptTokens: priced.usage.promptTokens,
      completionTokens: priced.usage.completionTokens,
      cachedTokens: priced.usage.cachedTokens,
      costUsd,
      estimated: priced.estimated,
      latencyMs: Math.round(outcome.totalMs * 100) / 100,
      status: outcome.status,
      cacheHit,
      ...(ctx.notes.downshift ? { downshiftRule: ctx.notes.downshift.rule, downshiftReason: ctx.notes.downshift.reason } : {}),
      ...(baseline !== undefined ? { baselineCostUsd: baseline } : {}),
      ...(leaseId ? { leaseId } : {}),
    };
    store.record(record);
  }

  return {
    name: 'meter',
    phase: 'response',
    run(ctx: RequestContext) {
      const res = ctx.response;
      if (!res) return;
      const state = peekCostState(ctx);
      const meter = new UsageMeter();
      if (res.kind === 'json') {
        if (res.status < 400) meter.fromBody(res.body as JsonValue);
        if (meter.usage) {
          const priced = priceFor(meter.usage, registry.get(modelUsed(ctx)), false, unknownModelPrice);
          res.headers['x-switchboard-cost-usd'] = formatUsd(ctx.notes.cache === 'hit' ? 0 : priced.costUsd);
        }
      } else if (res.kind === 'sse') {
        const hide =
          ctx.stream && ctx.format === 'openai' && ctx.route === 'chat' && !(state?.clientWantsStreamUsage ?? clientAskedForStreamUsage(ctx.body));
        res.events = meterSseEvents(res.events, meter, hide);
      }
      if (state?.tightest) {
        const t = state.tightest;
        Object.assign(res.headers, budgetHeaders(t));
      }
      if (state?.cappedMaxTokens !== undefined) res.headers['x-switchboard-budget-capped-output'] = String(state.cappedMaxTokens);
      ctx.onFinish((outcome) => finish(ctx, res, meter, state, outcome));
    },
  };
}
