/** Privacy Guard section of a policy. Mode per data class, with a default for all classes. */
export type GuardMode = 'off' | 'detect' | 'mask' | 'block';

export interface GuardPolicy {
  /** Mode for every class not listed in `classes`. Default: mask. */
  defaultMode: GuardMode;
  /** Per-class overrides, keyed by class name (EMAIL, API_KEY, ...). */
  classes?: Record<string, GuardMode>;
  /** Values never flagged (exact strings, case-insensitive for emails/domains). */
  allow?: string[];
  /** Values always flagged, with the class to report. */
  deny?: Array<{ value: string; class: string }>;
  /** Extra regex-based classes defined by policy. */
  customClasses?: Array<{ name: string; pattern: string; flags?: string; mode?: GuardMode }>;
  /** Pseudonym style per class: compact `token` (default) or format-preserving `realistic` surrogate. */
  styles?: Record<string, 'token' | 'realistic'>;
}

export const defaultGuardPolicy: GuardPolicy = { defaultMode: 'mask' };
