/** A role profile as loaded from policies/profiles/<role>.yaml (schema: policies/schema/profile.schema.json). */
import type { GuardPolicy } from './guard-policy.js';
import type { DownshiftRuleSet } from './downshift/types.js';

export type ModelTier = 'premium' | 'standard' | 'economy' | 'local';

export interface ProfileRule {
  id: string;
  /** Shown in evaluation reasons when the rule decides. */
  reason: string;
  /** One Cedar policy. */
  cedar: string;
}

export interface RoleProfile {
  version: 1;
  role: string;
  displayName: string;
  description?: string;
  models: { allowed: string[]; tiers?: ModelTier[]; default?: string };
  /** Owned by the budgets module; validated against its schema when present. */
  budgets?: Record<string, unknown>;
  guard: GuardPolicy;
  extensions: { allow: string[] };
  /** Owned by the downshift module (policies/schema/downshift.schema.json). */
  downshift?: DownshiftRuleSet;
  skills?: Array<{ id: string; name: string; description?: string; tags?: string[] }>;
  rules?: ProfileRule[];
}
