/**
 * What-if simulator: replays recorded usage against a candidate rule set with the same
 * evaluator the gateway runs, and prices each request at the model the candidate would have
 * sent, with the tokens it actually used (output capped where a rule caps it).
 *
 * What it compares: actual = what each request really cost; projected = what it would have
 * cost under the candidate rules *instead of* the rules active at the time. A request no
 * candidate rule catches is projected at its requested model — so dropping a rule that is
 * saving money today shows up as a negative saving.
 *
 * Not simulated: answer quality, whether a capped answer would have been cut short (capped
 * output is assumed to be min(actual, cap) tokens), the provider's prompt cache on the new
 * model (cached tokens are priced at its cache-read price), and budget pressure (records do
 * not keep it; an assumed state is used for budget conditions).
 */
import type { BudgetState } from './types.js';
import type { ModelPrice } from '../../models/registry.js';
import type { UsageRecord } from '../../models/usage-record.js';
import { priceUsage } from '../../models/price-usage.js';
import type { DownshiftRules } from './rules.js';

export interface SimulationOptions {
  /** Budget state assumed for rules with a `budget` condition. */
  assumeBudget: BudgetState;
}

export interface RuleProjection {
  rule: string;
  /** Requests this rule would catch (first match wins). */
  requests: number;
  /** Of those, how many it would change (model or output cap). */
  changed: number;
  actualUsd: number;
  projectedUsd: number;
  savingUsd: number;
  /** Target model → requests sent there. */
  models: Record<string, number>;
}

export interface SimulationReport {
  records: number;
  /** Cache hits and failed requests: replayed as they were (no model call to change). */
  passedThrough: number;
  actualUsd: number;
  projectedUsd: number;
  savingUsd: number;
  rules: RuleProjection[];
  /** Requests no candidate rule catches, projected at their requested model. */
  uncaught: { requests: number; actualUsd: number; projectedUsd: number };
  /** Requests whose projection needed a price the registry does not have (kept at actual cost). */
  unpriced: number;
  assumedBudget: BudgetState;
  caveat: string;
}

export const SIMULATION_CAVEAT =
  'Quality is not simulated: projections assume the substitute model answers as well and that capped answers fit their cap.';

export type PriceOf = (modelId: string) => ModelPrice | undefined;

export function simulateRules(records: Iterable<UsageRecord>, rules: DownshiftRules, priceOf: PriceOf, opts: SimulationOptions): SimulationReport {
  const byRule = new Map<string, RuleProjection>(
    rules.ruleIds.map((id) => [id, { rule: id, requests: 0, changed: 0, actualUsd: 0, projectedUsd: 0, savingUsd: 0, models: {} }]),
  );
  const report: SimulationReport = {
    records: 0,
    passedThrough: 0,
    actualUsd: 0,
    projectedUsd: 0,
    savingUsd: 0,
    rules: [],
    uncaught: { requests: 0, actualUsd: 0, projectedUsd: 0 },
    unpriced: 0,
    assumedBudget: opts.assumeBudget,
    caveat: SIMULATION_CAVEAT,
  };

  /** Cost of a record's tokens at `model`; undefined when the registry has no price. */
  const costAt = (r: UsageRecord, model: string, completionTokens: number): number | undefined => {
    if (model === r.modelUsed && completionTokens === r.completionTokens) return r.costUsd;
    if (model === r.modelRequested && completionTokens === r.completionTokens && r.baselineCostUsd !== undefined) return r.baselineCostUsd;
    const price = priceOf(model);
    if (!price) return undefined;
    return priceUsage({ promptTokens: r.promptTokens, completionTokens, cachedTokens: r.cachedTokens, cacheWriteTokens: 0 }, price);
  };

  for (const r of records) {
    report.records++;
    report.actualUsd += r.costUsd;
    if (r.cacheHit || r.status < 200 || r.status >= 300) {
      report.passedThrough++;
      report.projectedUsd += r.costUsd;
      continue;
    }
    const decision = rules.decide({
      role: r.role,
      taskKind: r.taskKind ?? 'chat',
      model: r.modelRequested,
      promptTokens: () => r.promptTokens,
      budget: opts.assumeBudget,
      now: r.ts,
    });
    const model = decision?.model ?? r.modelRequested;
    const completion = decision?.maxTokens !== undefined ? Math.min(r.completionTokens, decision.maxTokens) : r.completionTokens;
    let projected = costAt(r, model, completion);
    if (projected === undefined) {
      // Without a price the projection cannot be honest: keep the actual cost and say so.
      report.unpriced++;
      projected = r.costUsd;
    }
    report.projectedUsd += projected;

    const slot = decision ? byRule.get(decision.rule) : undefined;
    if (!slot) {
      report.uncaught.requests++;
      report.uncaught.actualUsd += r.costUsd;
      report.uncaught.projectedUsd += projected;
      continue;
    }
    slot.requests++;
    if (decision?.model !== undefined || decision?.maxTokens !== undefined) slot.changed++;
    slot.actualUsd += r.costUsd;
    slot.projectedUsd += projected;
    slot.models[model] = (slot.models[model] ?? 0) + 1;
  }

  for (const slot of byRule.values()) slot.savingUsd = slot.actualUsd - slot.projectedUsd;
  report.rules = [...byRule.values()];
  report.savingUsd = report.actualUsd - report.projectedUsd;
  return report;
}

/** "30d", "12h", "90m", "2w" → milliseconds; undefined when malformed. */
export function parseWindow(text: string): number | undefined {
  const m = /^(\d{1,5})([mhdw])$/.exec(text.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }[m[2] as 'm' | 'h' | 'd' | 'w'];
  return n > 0 ? n * unit : undefined;
}
