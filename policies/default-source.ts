/**
 * Built-in policy used when no controller bundle and no policy file is configured:
 * every role may use any model, and the Privacy Guard masks every class it detects.
 */
import type { EffectivePolicy } from './types.js';
import { defaultGuardPolicy } from './guard-policy.js';

export const defaultPolicySource = {
  policyFor(role: string): EffectivePolicy {
    return { role, version: 'default', guard: defaultGuardPolicy };
  },
};
