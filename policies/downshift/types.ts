/**
 * Downshift rules: which requests go to a cheaper model or get their output capped.
 * The YAML form is validated against policies/schema/downshift.schema.json; these types
 * mirror that schema after loading.
 */

/** Registry tiers, most expensive first. */
export const MODEL_TIERS = ['premium', 'standard', 'economy', 'local'] as const;
export type ModelTier = (typeof MODEL_TIERS)[number];

export type BudgetState = 'ok' | 'soft' | 'hard';
export type Weekday = 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';

export interface DownshiftMatch {
  roles?: string[];
  /** compaction, title, summary, permission, auxiliary, chat, or any header-given kind. */
  taskKinds?: string[];
  /** Requested model ids or globs. */
  models?: string[];
  promptTokens?: { min?: number; max?: number };
  budget?: BudgetState[];
  timeWindow?: { days?: Weekday[]; from?: string; to?: string; timezone?: string };
}

export interface DownshiftAction {
  /** Substitute this exact model id. */
  model?: string;
  /** Substitute the model the rule file's `tiers` map names for this tier. */
  tier?: ModelTier;
  /** Cap max_tokens / max_completion_tokens to at most this. */
  maxTokens?: number;
}

export interface DownshiftRule {
  id: string;
  description?: string;
  /** Defaults to true; a disabled rule is kept in the file but never matches. */
  enabled?: boolean;
  match: DownshiftMatch;
  action: DownshiftAction;
}

export interface DownshiftRuleSet {
  version: 1;
  tiers?: Partial<Record<ModelTier, string>>;
  rules: DownshiftRule[];
}
