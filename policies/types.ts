/**
 * The effective policy the gateway applies to one caller, resolved from a signed bundle,
 * a local policy file, or the built-in defaults. Sections are owned by the module that
 * enforces them; each section's JSON Schema lives in policies/schema/.
 */
import type { GuardPolicy } from './guard-policy.js';
import type { BudgetPolicy } from './budgets.js';

export interface EffectivePolicy {
  /** Role this policy applies to (e.g. "finance"). */
  role: string;
  /** Bundle version or "local"/"default", recorded in audit events. */
  version: string;
  guard: GuardPolicy;
  /** Models the role may use (ids or globs); empty/absent = any. */
  allowedModels?: string[];
  /** Spend limits (policies/schema/budgets.schema.json); the gateway validates them again before use. */
  budgets?: BudgetPolicy;
  /** Further sections (budgets, downshift, extensions, rules) are typed by their own modules. */
  [section: string]: unknown;
}
