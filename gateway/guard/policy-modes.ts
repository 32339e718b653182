/**
 * Turns a GuardPolicy into what masking needs: the mode and pseudonym style of each class and
 * the detector options. Resolved once per policy object (policies are long-lived) so the hot
 * path does not rebuild sets per request. Also validates policies given on the CLI or over MCP.
 */
import { Ajv } from 'ajv';
import type { GuardMode, GuardPolicy } from '../../policies/guard-policy.js';
import { describeAjvErrors } from '../../platform/ajv-errors.js';
import guardPolicySchema from '../../policies/schema/guard.schema.json' with { type: 'json' };
import type { DetectOptions, EntityClass } from './types.js';
import type { PseudonymStyle } from './mask-request.js';

export interface ResolvedGuardPolicy {
  /** Nothing to detect at all (every class off). */
  readonly inactive: boolean;
  readonly defaultMode: GuardMode;
  modeFor(cls: EntityClass): GuardMode;
  styleFor(cls: EntityClass): PseudonymStyle;
  readonly detectOptions: DetectOptions | undefined;
}

const resolved = new WeakMap<GuardPolicy, ResolvedGuardPolicy>();

export function resolveGuardPolicy(policy: GuardPolicy): ResolvedGuardPolicy {
  let r = resolved.get(policy);
  if (!r) resolved.set(policy, (r = build(policy)));
  return r;
}

function build(policy: GuardPolicy): ResolvedGuardPolicy {
  const modes = new Map<string, GuardMode>(Object.entries(policy.classes ?? {}));
  for (const c of policy.customClasses ?? []) if (c.mode && !modes.has(c.name)) modes.set(c.name, c.mode);
  const styles = new Map<string, PseudonymStyle>(Object.entries(policy.styles ?? {}));
  const defaultMode = policy.defaultMode;
  const modeFor = (cls: EntityClass): GuardMode => modes.get(cls) ?? defaultMode;

  const detectOptions: DetectOptions = {};
  if (defaultMode === 'off') {
    // Only the classes switched on need detecting.
    detectOptions.classes = new Set([...modes].filter(([, m]) => m !== 'off').map(([c]) => c));
  }
  if (policy.allow?.length) detectOptions.allow = policy.allow;
  if (policy.deny?.length) detectOptions.deny = policy.deny;
  if (policy.customClasses?.length) detectOptions.customClasses = policy.customClasses;

  const inactive = defaultMode === 'off' && detectOptions.classes?.size === 0;
  return {
    inactive,
    defaultMode,
    modeFor,
    styleFor: (cls) => styles.get(cls) ?? 'token',
    detectOptions: Object.keys(detectOptions).length > 0 ? detectOptions : undefined,
  };
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validateGuardPolicy = ajv.compile(guardPolicySchema as object);

/** Checks an untrusted policy (CLI file, MCP argument); returns it typed, or the problems. */
export function parseGuardPolicy(data: unknown): { policy: GuardPolicy } | { problems: string[] } {
  if (!validateGuardPolicy(data)) return { problems: describeAjvErrors(validateGuardPolicy.errors, data) };
  const policy = data as GuardPolicy;
  for (const c of policy.customClasses ?? []) {
    try {
      new RegExp(c.pattern, c.flags);
    } catch {
      return { problems: [`customClasses: pattern of ${c.name} is not a valid regular expression`] };
    }
  }
  return { policy };
}
