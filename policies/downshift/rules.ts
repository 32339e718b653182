/**
 * Rule matching for downshift: a rule set is compiled once (globs to regexes, lists to sets,
 * time windows to minutes) and then evaluated per request. The same evaluator serves the
 * gateway stage and the what-if simulator, so a simulation predicts exactly what the
 * gateway would do.
 */
import { blendedUsdPerMTok, type ModelRegistry } from '../../models/registry.js';
import { MODEL_TIERS, type BudgetState, type DownshiftRule, type DownshiftRuleSet, type ModelTier, type Weekday } from './types.js';

/** What a rule can look at. `promptTokens` is a function so it is only computed when a rule asks. */
export interface DownshiftFacts {
  role: string;
  taskKind: string;
  model: string;
  promptTokens: () => number;
  budget: BudgetState | undefined;
  /** Epoch milliseconds. */
  now: number;
}

/** What the registry knows about a model id, or undefined when it does not know it. */
export interface ModelFacts {
  tier: ModelTier;
  /** Blended USD per million tokens (registry's input-heavy mix), when priced. */
  blendedUsdPerMTok?: number;
}
export type ModelLookup = (modelId: string) => ModelFacts | undefined;

/** The registry as downshift sees it: tier and blended price per model id. */
export function registryLookup(registry: ModelRegistry): ModelLookup {
  return (id) => {
    const m = registry.get(id);
    return m ? { tier: m.tier, blendedUsdPerMTok: blendedUsdPerMTok(m) } : undefined;
  };
}

export interface DownshiftDecision {
  rule: string;
  /** Model to send instead of the requested one; absent when the rule does not change it. */
  model?: string;
  /** Cap for max_tokens / max_completion_tokens. */
  maxTokens?: number;
  /** Why the rule matched and what it did, for notes, usage records and audit. */
  reason: string;
}

const WEEKDAYS: Weekday[] = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const tierRank = new Map<ModelTier, number>(MODEL_TIERS.map((t, i) => [t, i]));

interface CompiledRule {
  id: string;
  roles?: Set<string>;
  taskKinds?: Set<string>;
  models?: RegExp[];
  minTokens?: number;
  maxTokens?: number;
  budget?: Set<BudgetState>;
  window?: { days?: Set<Weekday>; from?: number; to?: number; clock: LocalClock };
  target?: { model: string; via: string };
  cap?: number;
}

type LocalClock = (epochMs: number) => { day: Weekday; minute: number };

const clocks = new Map<string, LocalClock>();
function clockFor(timeZone: string): LocalClock {
  let clock = clocks.get(timeZone);
  if (!clock) {
    const fmt = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', weekday: 'short', hour: '2-digit', minute: '2-digit' });
    clock = (epochMs) => {
      let day: Weekday = 'sun';
      let hour = 0;
      let minute = 0;
      for (const p of fmt.formatToParts(epochMs)) {
        if (p.type === 'weekday') day = p.value.toLowerCase().slice(0, 3) as Weekday;
        else if (p.type === 'hour') hour = Number(p.value);
        else if (p.type === 'minute') minute = Number(p.value);
      }
      return { day, minute: hour * 60 + minute };
    };
    clocks.set(timeZone, clock);
  }
  return clock;
}

const utcClock: LocalClock = (epochMs) => {
  const d = new Date(epochMs);
  return { day: WEEKDAYS[d.getUTCDay()] as Weekday, minute: d.getUTCHours() * 60 + d.getUTCMinutes() };
};

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

export function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`, 'i');
}

function compileRule(rule: DownshiftRule, set: DownshiftRuleSet): CompiledRule {
  const { match, action } = rule;
  const out: CompiledRule = { id: rule.id };
  if (match.roles) out.roles = new Set(match.roles);
  if (match.taskKinds) out.taskKinds = new Set(match.taskKinds.map((k) => k.toLowerCase()));
  if (match.models) out.models = match.models.map(globToRegExp);
  if (match.promptTokens?.min !== undefined) out.minTokens = match.promptTokens.min;
  if (match.promptTokens?.max !== undefined) out.maxTokens = match.promptTokens.max;
  if (match.budget) out.budget = new Set(match.budget);
  const tw = match.timeWindow;
  if (tw) {
    const tz = tw.timezone ?? 'UTC';
    out.window = {
      clock: tz === 'UTC' || tz === 'Etc/UTC' ? utcClock : clockFor(tz),
      ...(tw.days ? { days: new Set(tw.days) } : {}),
      ...(tw.from !== undefined && tw.to !== undefined ? { from: minutesOf(tw.from), to: minutesOf(tw.to) } : {}),
    };
  }
  if (action.model) out.target = { model: action.model, via: `model ${action.model}` };
  else if (action.tier) {
    const model = set.tiers?.[action.tier];
    if (model) out.target = { model, via: `tier ${action.tier} (${model})` };
  }
  if (action.maxTokens !== undefined) out.cap = action.maxTokens;
  return out;
}

function inWindow(w: NonNullable<CompiledRule['window']>, now: number): boolean {
  const { day, minute } = w.clock(now);
  if (w.days && !w.days.has(day)) return false;
  if (w.from === undefined || w.to === undefined) return true;
  // from > to is an overnight window (20:00–06:00).
  return w.from < w.to ? minute >= w.from && minute < w.to : minute >= w.from || minute < w.to;
}

export class DownshiftRules {
  private readonly compiled: CompiledRule[];
  /** True when some enabled rule looks at prompt size, so callers know estimates are needed. */
  readonly needsPromptTokens: boolean;

  constructor(readonly ruleSet: DownshiftRuleSet, private readonly lookup: ModelLookup = () => undefined) {
    this.compiled = ruleSet.rules.filter((r) => r.enabled !== false).map((r) => compileRule(r, ruleSet));
    this.needsPromptTokens = this.compiled.some((r) => r.minTokens !== undefined || r.maxTokens !== undefined);
  }

  /** Ids of the enabled rules, in evaluation order. */
  get ruleIds(): string[] {
    return this.compiled.map((r) => r.id);
  }

  private firstMatch(facts: DownshiftFacts): CompiledRule | undefined {
    for (const r of this.compiled) if (this.matches(r, facts)) return r;
    return undefined;
  }

  /**
   * The first matching rule's decision, or undefined when no rule matches. A match whose action
   * would change nothing (already cheap enough, already capped) has neither `model` nor `maxTokens`.
   */
  decide(given: DownshiftFacts, requestedMaxTokens?: number): DownshiftDecision | undefined {
    let tokens: number | undefined;
    const facts: DownshiftFacts = { ...given, promptTokens: () => (tokens ??= given.promptTokens()) };
    const rule = this.firstMatch(facts);
    if (!rule) return undefined;
    const why: string[] = [];
    if (rule.taskKinds) why.push(`task ${facts.taskKind}`);
    if (rule.roles) why.push(`role ${facts.role}`);
    if (rule.budget) why.push(`budget ${facts.budget ?? 'ok'}`);
    if (rule.minTokens !== undefined || rule.maxTokens !== undefined) why.push(`prompt ~${facts.promptTokens()} tokens`);
    if (rule.window) why.push('time window');
    if (rule.models) why.push(`model ${facts.model}`);

    const did: string[] = [];
    let model: string | undefined;
    if (rule.target && rule.target.model !== facts.model) {
      if (this.isCheaperOrUnknown(facts.model, rule.target.model)) {
        model = rule.target.model;
        did.push(`→ ${rule.target.via}`);
      } else {
        did.push(`kept ${facts.model} (not cheaper than ${rule.target.model})`);
      }
    }
    let maxTokens: number | undefined;
    if (rule.cap !== undefined && (requestedMaxTokens === undefined || requestedMaxTokens > rule.cap)) {
      maxTokens = rule.cap;
      did.push(`max tokens ${requestedMaxTokens ?? 'unset'}→${rule.cap}`);
    }
    const reason = `${why.length > 0 ? why.join(', ') : 'every request'} ${did.length > 0 ? did.join('; ') : '(nothing to change)'}`;
    return { rule: rule.id, ...(model ? { model } : {}), ...(maxTokens !== undefined ? { maxTokens } : {}), reason };
  }

  /**
   * A rule only ever moves a request to a cheaper model: by price when the registry prices
   * both, else by tier; when the registry knows neither, the rule's author is trusted.
   */
  private isCheaperOrUnknown(from: string, to: string): boolean {
    const a = this.lookup(from);
    const b = this.lookup(to);
    if (a === undefined || b === undefined) return true;
    if (a.blendedUsdPerMTok !== undefined && b.blendedUsdPerMTok !== undefined) return b.blendedUsdPerMTok < a.blendedUsdPerMTok;
    return (tierRank.get(b.tier) ?? 0) > (tierRank.get(a.tier) ?? 0);
  }

  private matches(r: CompiledRule, f: DownshiftFacts): boolean {
    if (r.roles && !r.roles.has(f.role)) return false;
    if (r.taskKinds && !r.taskKinds.has(f.taskKind)) return false;
    if (r.budget && !r.budget.has(f.budget ?? 'ok')) return false;
    if (r.models && !r.models.some((re) => re.test(f.model))) return false;
    if (r.window && !inWindow(r.window, f.now)) return false;
    if (r.minTokens !== undefined || r.maxTokens !== undefined) {
      const n = f.promptTokens();
      if (r.minTokens !== undefined && n < r.minTokens) return false;
      if (r.maxTokens !== undefined && n > r.maxTokens) return false;
    }
    return true;
  }
}
