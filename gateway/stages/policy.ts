/**
 * loadPolicy: resolves the caller's effective policy (role profile, guard modes, budgets...)
 * from a PolicySource. Sources: a synced signed bundle, a local policy file, or defaults.
 */
import type { RequestContext, Stage } from '../context.js';
import type { EffectivePolicy } from '../../policies/types.js';
import { GatewayError } from '../errors.js';

export interface PolicySource {
  /** The policy for a role, or undefined when this source has none for it. */
  policyFor(role: string): EffectivePolicy | undefined;
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
        throw new GatewayError(403, `No policy is available for role "${role}"; ask your administrator to publish one`, 'permission_error', 'no_policy');
      }
      ctx.policy = policy;
    },
  };
}
