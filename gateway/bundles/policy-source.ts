/**
 * PolicySource backed by the synced signed bundle: the role profile becomes the effective
 * policy (guard modes, allowed models and tiers, budgets, downshift rules, extensions, ABAC
 * rules) that the pipeline reads from ctx.policy. One object per bundle version, so per-policy
 * caches in later stages (budgets) stay warm until the bundle changes.
 *
 * A bundle past its `exp` plus the grace period is no longer applied: a gateway cut off from
 * its controller must not keep a policy the controller may have tightened since. It falls back
 * to the safe default policy (every data class masked) until a fresh bundle arrives, and says
 * so in the logs (once per change) and in /readyz (`status()`).
 */
import type { Logger } from 'pino';
import type { EffectivePolicy } from '../../policies/types.js';
import { defaultGuardPolicy } from '../../policies/guard-policy.js';
import type { PolicySource } from '../stages/policy.js';
import type { PolicyBundleBody } from '../../policies/bundle/body.js';
import type { VerifiedBundle } from './verify.js';

export const FALLBACK_POLICY_VERSION = 'safe-default';

export interface BundlePolicyStatus {
  /** current: a valid bundle applies; expired-fallback: the safe default applies; none: no bundle, requests refused. */
  state: 'current' | 'expired-fallback' | 'none';
  role: string;
  version?: string;
  /** ISO time the bundle expired / expires. */
  expiresAt?: string;
  /** ISO time the grace period ends (or ended). */
  graceEndsAt?: string;
}

export interface BundlePolicySourceOptions {
  /** How long past `exp` a bundle still applies. */
  expiryGraceMs: number;
  log: Logger;
  now?: () => number;
}

export class BundlePolicySource implements PolicySource {
  private cached: { jws: string; policy: EffectivePolicy } | undefined;
  private readonly fallbacks = new Map<string, EffectivePolicy>();
  private inFallback = false;
  private readonly now: () => number;

  constructor(
    private readonly current: () => VerifiedBundle | undefined,
    private readonly role: string,
    private readonly opts: BundlePolicySourceOptions,
  ) {
    this.now = opts.now ?? Date.now;
  }

  policyFor(role: string): EffectivePolicy | undefined {
    const bundle = this.current();
    if (!bundle || bundle.role !== role) return undefined;
    if (this.expiredPastGrace(bundle)) return this.fallback(role);
    this.noteFallback(false, bundle);
    if (this.cached?.jws !== bundle.jws) this.cached = { jws: bundle.jws, policy: effectivePolicyOf(bundle) };
    return this.cached.policy;
  }

  /** What applies now, for /readyz. */
  status(): BundlePolicyStatus {
    const bundle = this.current();
    if (!bundle) return { state: 'none', role: this.role };
    const times = { expiresAt: new Date(bundle.expiresAt * 1000).toISOString(), graceEndsAt: new Date(this.graceEnd(bundle)).toISOString() };
    if (this.expiredPastGrace(bundle)) return { state: 'expired-fallback', role: bundle.role, version: FALLBACK_POLICY_VERSION, ...times };
    return { state: 'current', role: bundle.role, version: bundle.version, ...times };
  }

  private graceEnd(bundle: VerifiedBundle): number {
    return bundle.expiresAt * 1000 + this.opts.expiryGraceMs;
  }

  private expiredPastGrace(bundle: VerifiedBundle): boolean {
    const past = this.now() > this.graceEnd(bundle);
    if (past) this.noteFallback(true, bundle);
    return past;
  }

  private fallback(role: string): EffectivePolicy {
    let policy = this.fallbacks.get(role);
    if (!policy) {
      policy = { role, version: FALLBACK_POLICY_VERSION, guard: defaultGuardPolicy };
      this.fallbacks.set(role, policy);
    }
    return policy;
  }

  /** Logs the switch to and from the fallback once, not per request. */
  private noteFallback(active: boolean, bundle: VerifiedBundle): void {
    if (active === this.inFallback) return;
    this.inFallback = active;
    const fields = { role: bundle.role, version: bundle.version, expiresAt: new Date(bundle.expiresAt * 1000).toISOString(), graceMs: this.opts.expiryGraceMs };
    if (active) this.opts.log.error(fields, 'policy bundle: expired past its grace period and no fresh bundle arrived; applying the safe default policy (every data class masked) until one does');
    else this.opts.log.info(fields, 'policy bundle: a valid bundle applies again');
  }
}

export function effectivePolicyOf(bundle: VerifiedBundle): EffectivePolicy {
  const { profile } = bundle.bundle as unknown as PolicyBundleBody;
  return {
    role: profile.role,
    version: bundle.version,
    guard: profile.guard,
    allowedModels: profile.models.allowed,
    models: profile.models,
    extensions: profile.extensions,
    ...(profile.budgets !== undefined ? { budgets: profile.budgets } : {}),
    ...(profile.downshift !== undefined ? { downshift: profile.downshift } : {}),
    ...(profile.rules !== undefined ? { rules: profile.rules } : {}),
  };
}
