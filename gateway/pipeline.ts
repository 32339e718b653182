/**
 * The gateway pipeline: every model call runs these stages, in this order.
 *
 *   authenticate → loadPolicy → extensionAllowlist → privacyGuard → budgetCheck → downshift → cacheLookup
 *   → budgetReserve → auditForwarded → forward → extensionAllowlistAnswers → modelList → cacheStore → reidentify
 *   → meter → audit
 *
 * cacheLookup comes after downshift so the cache key is the request as sent upstream.
 *
 * Request-phase stages run until one answers (sets ctx.response); response-phase stages
 * then all run in order, wrapping the response or registering finish hooks.
 * A stage that is not configured is left out of the list, never stubbed.
 */
import type { GatewayResponse, RequestContext, Stage, WireFormat } from './context.js';
import { failSpan } from '../platform/telemetry/tracing.js';
import { GatewayError, errorResponse } from './errors.js';
import { authenticateStage, type AuthenticateOptions } from './stages/authenticate.js';
import { loadPolicyStage, modelListStage, type ModelTierLookup, type PolicySource } from './stages/policy.js';
import { forwardStage, type ForwardOptions } from './stages/forward.js';
import type { UpstreamRouter } from './upstream/router.js';
import { cacheStages, type CacheStageDeps } from './stages/cache.js';
import { downshiftStage, type DownshiftStageDeps } from './stages/downshift.js';
import { privacyGuardStage, type PrivacyGuardDeps } from './stages/privacy-guard.js';
import { reidentifyStage } from './stages/reidentify.js';
import { budgetCheckStage, budgetReserveStage, type BudgetStageDeps } from './stages/budget.js';
import { meterStage, type MeterStageDeps } from './stages/meter.js';
import { auditStages, type AuditStageDeps } from './stages/audit.js';
import { extensionAllowlistStages, type ExtensionAllowlistDeps } from './stages/extension-allowlist.js';

export interface PipelineDeps {
  auth: AuthenticateOptions;
  policies: PolicySource;
  /** Tier of a model (model registry), for the policy's `models.tiers`. */
  modelTier?: ModelTierLookup;
  upstreams: UpstreamRouter;
  forward?: ForwardOptions;
  cache?: CacheStageDeps;
  downshift?: DownshiftStageDeps;
  guard?: PrivacyGuardDeps;
  cost?: { budget: BudgetStageDeps; meter: MeterStageDeps };
  audit?: AuditStageDeps;
  extensions?: ExtensionAllowlistDeps;
}

export function buildPipeline(deps: PipelineDeps): Stage[] {
  const cache = deps.cache ? cacheStages(deps.cache) : undefined;
  const extensions = deps.extensions ? extensionAllowlistStages(deps.extensions) : undefined;
  const audit = deps.audit ? auditStages(deps.audit) : undefined;
  const stages: Array<Stage | undefined> = [
    authenticateStage(deps.auth),
    loadPolicyStage(deps.policies, deps.modelTier),
    // Before the guard and the cache: the tools the model may see are part of what is cached.
    extensions?.filterTools,
    deps.guard ? privacyGuardStage(deps.guard) : undefined,
    deps.cost ? budgetCheckStage(deps.cost.budget) : undefined,
    deps.downshift ? downshiftStage(deps.downshift) : undefined,
    cache?.lookup,
    deps.cost ? budgetReserveStage(deps.cost.budget) : undefined,
    // auditForwarded right before forward: its event is committed before the first upstream byte.
    audit?.forwarded,
    forwardStage(deps.upstreams, deps.forward),
    // Right after forward, so cache hits and fresh answers are both checked.
    extensions?.refuseCalls,
    modelListStage(deps.modelTier),
    // cacheStore must stay before reidentify: it records the masked answer, never the clear one.
    cache?.store,
    deps.guard ? reidentifyStage(deps.guard.pseudonyms) : undefined,
    deps.cost ? meterStage(deps.cost.meter) : undefined,
    // audit stays last: its finish hook runs after meter's, so cost and tokens are known.
    audit?.completed,
  ];
  return stages.filter((s): s is Stage => s !== undefined);
}

/** Runs the stages over one request; always leaves a response on ctx. */
export async function runPipeline(stages: readonly Stage[], ctx: RequestContext): Promise<GatewayResponse> {
  // One span per stage, made here so every stage is traced the same way. An unsampled request
  // (trace.child() → undefined) allocates nothing per stage.
  const trace = ctx.trace;
  for (const stage of stages) {
    if (stage.phase === 'request' && ctx.response) continue;
    const span = trace?.child(stage.name);
    if (trace) {
      trace.stage = stage.name;
      trace.current = span;
    }
    try {
      await stage.run(ctx);
    } catch (err) {
      ctx.response = responseForError(ctx.format, err, stage.name, ctx);
      if (span) failSpan(span, err instanceof GatewayError ? `${err.status} ${err.code ?? err.type}` : 'stage failed');
    }
    span?.end();
  }
  if (trace) {
    trace.stage = undefined;
    trace.current = undefined;
  }
  if (!ctx.response) {
    ctx.response = errorResponse(ctx.format, new GatewayError(500, 'No pipeline stage produced a response', 'server_error'));
  }
  return ctx.response;
}

function responseForError(format: WireFormat, err: unknown, stageName: string, ctx: RequestContext): GatewayResponse {
  if (err instanceof GatewayError) return errorResponse(format, err);
  if (ctx.signal.aborted) return errorResponse(format, new GatewayError(499, 'Client closed the request', 'client_closed'));
  ctx.log.error({ err, stage: stageName }, 'pipeline stage failed');
  return errorResponse(format, new GatewayError(500, `Internal error in gateway stage "${stageName}"`, 'server_error'));
}
