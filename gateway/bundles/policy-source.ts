/**
 * PolicySource backed by the synced signed bundle: the role profile becomes the effective
 * policy (guard modes, allowed models, budgets, downshift rules, extensions, ABAC rules) that
 * the pipeline reads from ctx.policy. One object per bundle version, so per-policy caches in
 * later stages (budgets) stay warm until the bundle changes.
 */
import type { EffectivePolicy } from '../../policies/types.js';
import type { PolicySource } from '../stages/policy.js';
import type { PolicyBundleBody } from './body.js';
import type { VerifiedBundle } from './verify.js';

export class BundlePolicySource implements PolicySource {
  private cached: { jws: string; policy: EffectivePolicy } | undefined;

  constructor(private readonly current: () => VerifiedBundle | undefined) {}

  policyFor(role: string): EffectivePolicy | undefined {
    const bundle = this.current();
    if (!bundle || bundle.role !== role) return undefined;
    if (this.cached?.jws !== bundle.jws) this.cached = { jws: bundle.jws, policy: effectivePolicyOf(bundle) };
    return this.cached.policy;
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
