/**
 * loadPolicy: resolves the caller's effective policy (role profile, guard modes, budgets...)
 * from a PolicySource — the synced signed bundle when a controller is configured, else the
 * built-in default — and enforces the role's model allowlist and allowed tiers
 * (`models.tiers`, with each model's tier from the model registry) on the requested model,
 * as the controller's /evaluate does. Refusals are recorded in ctx.notes.denied so the audit
 * trail names them.
 *
 * Refusals are not 401/403: Goose reads those as a failed login. A disallowed model is a 400
 * (Goose shows "Bad request (400): <message>" to the person) naming the allowed models; a
 * missing policy is a 503 (shown as a server error, not retried). Neither message may contain
 * the phrases Goose reads as "context too long" (see errors.ts).
 *
 * modelList (response): `GET /models` lists only the models the role may use (allowlist and
 * tiers), so Goose's model picker does not offer models that are then refused.
 */
import type { JsonValue, RequestContext, Stage } from '../context.js';
import type { EffectivePolicy } from '../../policies/types.js';
import { GatewayError, readsAsContextOverflow } from '../errors.js';
import { globToRegExp } from '../../policies/downshift/rules.js';
import { MODEL_TIERS, type ModelTier } from '../../policies/downshift/types.js';

/** A model's tier (premium, standard, economy, local), or undefined when the registry does not know it. */
export type ModelTierLookup = (model: string) => ModelTier | undefined;

export interface PolicySource {
  /** The policy for a role, or undefined when this source has none for it. */
  policyFor(role: string): EffectivePolicy | undefined;
}

/** Compiled allowlists, one per policy object (policies are replaced, never mutated). */
const allowlists = new WeakMap<EffectivePolicy, RegExp[] | null>();

function allowlistOf(policy: EffectivePolicy): RegExp[] | null {
  let compiled = allowlists.get(policy);
  if (compiled === undefined) {
    compiled = policy.allowedModels && policy.allowedModels.length > 0 ? policy.allowedModels.map(globToRegExp) : null;
    allowlists.set(policy, compiled);
  }
  return compiled;
}

export function modelAllowed(policy: EffectivePolicy, model: string): boolean {
  const list = allowlistOf(policy);
  return list === null || list.some((re) => re.test(model));
}

const tierLists = new WeakMap<EffectivePolicy, readonly string[] | null>();

/** The tiers a policy allows, or null when it does not restrict tiers (computed once per policy object). */
export function allowedTiers(policy: EffectivePolicy): readonly string[] | null {
  let tiers = tierLists.get(policy);
  if (tiers === undefined) {
    const models = policy.models as { tiers?: unknown } | undefined;
    const listed = Array.isArray(models?.tiers) ? (models.tiers as string[]) : null;
    tiers = listed && !MODEL_TIERS.every((t) => listed.includes(t)) ? listed : null;
    tierLists.set(policy, tiers);
  }
  return tiers;
}

export function loadPolicyStage(source: PolicySource, modelTier?: ModelTierLookup): Stage {
  return {
    name: 'loadPolicy',
    phase: 'request',
    run(ctx: RequestContext) {
      const role = ctx.caller?.role;
      if (!role) throw new GatewayError(500, 'loadPolicy ran before authenticate', 'server_error');
      const policy = source.policyFor(role);
      if (!policy) {
        ctx.notes.denied = { stage: 'loadPolicy', reason: `no policy for role ${role}` };
        throw new GatewayError(503, `No policy is available for role "${role}"; ask your administrator to publish one`, 'server_error', 'no_policy');
      }
      ctx.policy = policy;
      const model = ctx.requestedModel;
      if (model !== undefined && ctx.route !== 'models' && !modelAllowed(policy, model)) {
        ctx.notes.denied = { stage: 'loadPolicy', reason: `model ${model} not allowed for role ${role}` };
        throw new GatewayError(400, modelNotAllowedMessage(model, role, policy.allowedModels!), 'invalid_request_error', 'model_not_allowed');
      }
      if (model !== undefined && ctx.route !== 'models') {
        const tierProblem = tierRefusal(policy, model, modelTier);
        if (tierProblem) {
          ctx.notes.denied = { stage: 'loadPolicy', reason: `model ${model} ${tierProblem.reason} not allowed for role ${role}` };
          throw new GatewayError(400, tierNotAllowedMessage(model, role, tierProblem.what, tierProblem.tiers), 'invalid_request_error', 'model_not_allowed');
        }
      }
    },
  };
}

/** Why a model's tier is refused for a policy, or null when its tiers allow it. */
function tierRefusal(
  policy: EffectivePolicy,
  model: string,
  modelTier: ModelTierLookup | undefined,
): { reason: string; what: string; tiers: readonly string[] } | null {
  const tiers = allowedTiers(policy);
  if (!tiers) return null;
  // Fail closed: a model whose tier is unknown cannot be shown to be within the allowed tiers.
  const tier = modelTier?.(model);
  if (tier !== undefined && tiers.includes(tier)) return null;
  return tier === undefined
    ? { reason: 'tier unknown', what: 'has no known tier', tiers }
    : { reason: `tier ${tier}`, what: `is in the ${tier} tier`, tiers };
}

/** The refusal Goose shows the person: which models the role may use instead. */
export function modelNotAllowedMessage(model: string, role: string, allowed: readonly string[]): string {
  const tail = `is not allowed for role "${role}". Allowed models: ${allowed.join(', ')}. Choose one of them as the model, or ask your administrator.`;
  const named = `Model "${model}" ${tail}`;
  // A model id is caller text: if it carries a phrase Goose reads as "context too long", leave it out.
  return readsAsContextOverflow(named) ? `The requested model ${tail}` : named;
}

/** The tier refusal Goose shows the person: which tiers the role may use. */
function tierNotAllowedMessage(model: string, role: string, what: string, tiers: readonly string[]): string {
  const tail = `${what}; role "${role}" may use the ${tiers.join(', ')} tier${tiers.length === 1 ? '' : 's'}. Choose a model of an allowed tier (see /models), or ask your administrator.`;
  const named = `Model "${model}" ${tail}`;
  return readsAsContextOverflow(named) ? `The requested model ${tail}` : named;
}

export function modelListStage(modelTier?: ModelTierLookup): Stage {
  return {
    name: 'modelList',
    phase: 'response',
    run(ctx: RequestContext) {
      const res = ctx.response;
      const policy = ctx.policy;
      if (ctx.route !== 'models' || !policy || !res || res.kind !== 'json' || res.status !== 200) return;
      const body = res.body;
      if (!body || typeof body !== 'object' || Array.isArray(body) || !Array.isArray(body.data)) return;
      if (allowlistOf(policy) === null && allowedTiers(policy) === null) return;
      body.data = body.data.filter((m: JsonValue) => {
        const id = m && typeof m === 'object' && !Array.isArray(m) ? m.id : undefined;
        return typeof id === 'string' && modelAllowed(policy, id) && tierRefusal(policy, id, modelTier) === null;
      });
      // The upstream's bytes no longer match the body.
      delete res.bytes;
    },
  };
}
