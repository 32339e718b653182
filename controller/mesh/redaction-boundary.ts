/**
 * The redaction boundary between roles: context one role's agent passes to another's goes
 * through the Privacy Guard under the RECEIVING role's guard policy (its profile), so a class
 * one role may see in clear (marketing: PERSON detect-only) is masked for another (finance:
 * default mask). A receiver holding several roles gets the strictest mode per class; a role
 * without a profile gets the default policy (mask everything) — fail closed. A `block` finding
 * refuses the hand-off (class named, never the value).
 */
import { detect } from '../../gateway/guard/detect.js';
import { maskText } from '../../gateway/guard/mask-request.js';
import { resolveGuardPolicy } from '../../gateway/guard/policy-modes.js';
import type { Pseudonymizer } from '../../gateway/guard/pseudonym.js';
import { defaultGuardPolicy, type GuardMode } from '../../policies/guard-policy.js';
import type { DetectOptions, EntityClass } from '../../gateway/guard/types.js';
import type { ProfileCatalog } from '../profiles/catalog.js';

export interface MaskedText {
  text: string;
  redactions: Array<{ class: string; count: number }>;
}

/** The receiver's policy blocks a class the text carries. */
export class BlockedByGuardError extends Error {
  override name = 'BlockedByGuardError';
  constructor(readonly dataClass: string, readonly role: string) {
    super(`the Privacy Guard policy of role ${role} blocks ${dataClass}; remove it from the context before sending`);
  }
}

const STRICTNESS: Record<GuardMode, number> = { off: 0, detect: 1, mask: 2, block: 3 };

interface ModePolicy {
  modeFor(cls: EntityClass): GuardMode;
  detectOptions: DetectOptions | undefined;
}

export class RedactionBoundary {
  private readonly combined = new Map<string, ModePolicy>();

  constructor(
    private readonly profiles: ProfileCatalog,
    private readonly pseudonymizer: Pseudonymizer,
  ) {}

  /** Masks `text` for a receiver holding `roles`; throws BlockedByGuardError on a blocked class. */
  maskFor(roles: readonly string[], text: string): MaskedText {
    if (text.length === 0) return { text, redactions: [] };
    const policy = this.policyFor(roles);
    const { masked, result } = maskText(text, {
      detect,
      detectOptions: policy.detectOptions,
      modeFor: policy.modeFor,
      pseudonymizer: this.pseudonymizer,
    });
    if (result.blocked) throw new BlockedByGuardError(result.blocked.class, roles.join('+') || '(none)');
    return { text: masked, redactions: Object.entries(result.redactions).map(([cls, count]) => ({ class: cls, count })) };
  }

  /** Masks every string in a JSON value (approval payloads), same rules. */
  maskJson(roles: readonly string[], value: unknown): { value: unknown; redactions: Map<string, number> } {
    const totals = new Map<string, number>();
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') {
        const m = this.maskFor(roles, v);
        for (const r of m.redactions) totals.set(r.class, (totals.get(r.class) ?? 0) + r.count);
        return m.text;
      }
      if (Array.isArray(v)) return v.map(walk);
      if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
      return v;
    };
    return { value: walk(value), redactions: totals };
  }

  private policyFor(roles: readonly string[]): ModePolicy {
    const key = [...roles].sort().join(',');
    let p = this.combined.get(key);
    if (p) return p;
    const resolved = (roles.length ? roles : ['']).map((r) => resolveGuardPolicy(this.profiles.get(r)?.guard ?? defaultGuardPolicy));
    if (resolved.length === 1) {
      p = { modeFor: resolved[0]!.modeFor, detectOptions: resolved[0]!.detectOptions };
    } else {
      // Several roles: the strictest mode per class, detecting every class.
      p = {
        modeFor: (cls) => resolved.map((r) => r.modeFor(cls)).reduce((a, b) => (STRICTNESS[b] > STRICTNESS[a] ? b : a), 'off' as GuardMode),
        detectOptions: undefined,
      };
    }
    this.combined.set(key, p);
    return p;
  }
}
