/**
 * loadPolicy: resolves the caller's effective policy (role profile, guard modes, budgets...)
 * from a PolicySource — the synced signed bundle when a controller is configured, else the
 * built-in default — and enforces the role's model allowlist and allowed tiers
 * (`models.tiers`, with each model's tier from the model registry) on the requested model,
 * as the controller's /evaluate does. Refusals are recorded in ctx.notes.denied so the audit
 * trail names them; they are raised as GatewayErrors like every other refusal.
 */
import type { RequestContext, Stage } from '../context.js';
import type { EffectivePolicy } from '../../policies/types.js';
import { GatewayError } from '../errors.js';
import { globToRegExp } from '../downshift/rules.js';
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
        throw new GatewayError(403, `No policy is available for role "${role}"; ask your administrator to publish one`, 'permission_error', 'no_policy');
      }
      ctx.policy = policy;
      const model = ctx.requestedModel;
      if (model !== undefined && ctx.route !== 'models' && !modelAllowed(policy, model)) {
        ctx.notes.denied = { stage: 'loadPolicy', reason: `model ${model} not allowed for role ${role}` };
        throw new GatewayError(
          403,
          `Model "${model}" is not allowed for role "${role}" (allowed: ${policy.allowedModels!.join(', ')}); pick an allowed model or ask your administrator`,
          'permission_error',
          'model_not_allowed',
        );
      }
      const tiers = model !== undefined && ctx.route !== 'models' ? allowedTiers(policy) : null;
      if (tiers && model !== undefined) {
        // Fail closed: a model whose tier is unknown cannot be shown to be within the allowed tiers.
        const tier = modelTier?.(model);
        if (tier === undefined || !tiers.includes(tier)) {
          const what = tier === undefined ? 'has no known tier' : `is in the ${tier} tier`;
          ctx.notes.denied = { stage: 'loadPolicy', reason: `model ${model} ${tier === undefined ? 'tier unknown' : `tier ${tier}`} not allowed for role ${role}` };
          throw new GatewayError(
            403,
            `Model "${model}" ${what}; role "${role}" may use the ${tiers.join(', ')} tier${tiers.length === 1 ? '' : 's'}; pick a model of an allowed tier or ask your administrator`,
            'permission_error',
            'model_not_allowed',
          );
        }
      }
    },
  };
}
