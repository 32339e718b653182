/**
 * downshift: recognises the task kind, then applies the first matching downshift rule —
 * substitute a cheaper model and/or cap the output tokens — before the budget reservation,
 * so the reservation is priced on what is actually sent. Every applied decision is recorded
 * in ctx.notes.downshift (from, to, rule, reason); the task kind always in ctx.notes.taskKind.
 */
import type { JsonObject, RequestContext, RouteKind, Stage } from '../context.js';
import type { EffectivePolicy } from '../../policies/types.js';
import type { DownshiftRules } from '../../policies/downshift/rules.js';
import { classifyTaskKind } from '../downshift/task-kind.js';

export interface DownshiftStageDeps {
  /**
   * The local override rule file's rules; when set they apply whatever the policy says
   * (gateway/downshift/active-rules.ts explains the precedence).
   */
  rules: DownshiftRules | undefined;
  /** The rules of the caller's policy (the signed bundle's profile); used when there is no local override. */
  policyRules?: (policy: EffectivePolicy) => DownshiftRules | undefined;
  /** Pre-flight prompt token estimate, only called when a rule looks at prompt size. */
  estimatePromptTokens: (body: JsonObject, route: RouteKind, model: string) => number;
  now?: () => number;
}

const CAP_FIELDS = ['max_tokens', 'max_completion_tokens'] as const;

/** Smallest output cap the request already carries, if any. */
export function requestedMaxTokens(body: JsonObject): number | undefined {
  let min: number | undefined;
  for (const field of CAP_FIELDS) {
    const v = body[field];
    if (typeof v === 'number' && (min === undefined || v < min)) min = v;
  }
  return min;
}

/** Lowers every output-cap field present to `cap`; sets max_tokens when none is present. */
export function capMaxTokens(body: JsonObject, cap: number): void {
  let present = false;
  for (const field of CAP_FIELDS) {
    const v = body[field];
    if (typeof v === 'number') {
      present = true;
      if (v > cap) body[field] = cap;
    }
  }
  if (!present) body.max_tokens = cap;
}

export function downshiftStage(deps: DownshiftStageDeps): Stage {
  const now = deps.now ?? Date.now;
  return {
    name: 'downshift',
    phase: 'request',
    run(ctx: RequestContext) {
      const body = ctx.body;
      const taskKind = ctx.notes.taskKind ?? classifyTaskKind(body, ctx.headers);
      ctx.notes.taskKind = taskKind;
      const rules = deps.rules ?? (ctx.policy && deps.policyRules ? deps.policyRules(ctx.policy) : undefined);
      const model = body?.model;
      if (!rules || !body || typeof model !== 'string') return;

      let tokens: number | undefined;
      const decision = rules.decide(
        {
          role: ctx.caller?.role ?? '',
          taskKind,
          model,
          promptTokens: () => (tokens ??= deps.estimatePromptTokens(body, ctx.route, model)),
          budget: ctx.notes.budget?.state,
          now: now(),
        },
        requestedMaxTokens(body),
      );
      if (!decision) return;
      if (decision.model === undefined && decision.maxTokens === undefined) {
        // Matched but nothing to change (already cheap enough, already capped): not a downshift.
        ctx.log.debug({ rule: decision.rule, reason: decision.reason }, 'downshift rule matched without change');
        return;
      }
      if (decision.model !== undefined) body.model = decision.model;
      if (decision.maxTokens !== undefined) capMaxTokens(body, decision.maxTokens);
      ctx.notes.downshift = { from: model, to: decision.model ?? model, rule: decision.rule, reason: decision.reason };
      ctx.log.debug({ downshift: ctx.notes.downshift }, 'downshift rule applied');
    },
  };
}
