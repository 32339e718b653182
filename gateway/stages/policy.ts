/**
 * loadPolicy: resolves the caller's effective policy (role profile, guard modes, budgets...)
 * from a PolicySource — the synced signed bundle when a controller is configured, else the
 * built-in default — and enforces the role's model allowlist on the requested model.
 * Refusals are recorded in ctx.notes.denied so the audit trail names them.
 */
import type { RequestContext, Stage } from '../context.js';
import type { EffectivePolicy } from '../../policies/types.js';
import { GatewayError } from '../errors.js';
import { globToRegExp } from '../downshift/rules.js';

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

export function loadPolicyStage(source: PolicySource): Stage {
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
    },
  };
}
