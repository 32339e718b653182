/**
 * The gateway pipeline: every model call runs these stages, in this order.
 *
 *   authenticate → loadPolicy → forward → (respond/stream, done by the server)
 *
 * Request-phase stages run until one answers (sets ctx.response); response-phase stages
 * then all run in order, wrapping the response or registering finish hooks.
 * A stage that is not configured is left out of the list, never stubbed.
 */
import type { GatewayResponse, RequestContext, Stage, WireFormat } from './context.js';
import { GatewayError, errorResponse } from './errors.js';
import { authenticateStage, type AuthenticateOptions } from './stages/authenticate.js';
import { loadPolicyStage, type PolicySource } from './stages/policy.js';
import { forwardStage, type ForwardOptions } from './stages/forward.js';
import type { UpstreamRouter } from './upstream/router.js';

export interface PipelineDeps {
  auth: AuthenticateOptions;
  policies: PolicySource;
  upstreams: UpstreamRouter;
  forward?: ForwardOptions;
}

export function buildPipeline(deps: PipelineDeps): Stage[] {
  const stages: Array<Stage | undefined> = [
    authenticateStage(deps.auth),
    loadPolicyStage(deps.policies),
    forwardStage(deps.upstreams, deps.forward),
  ];
  return stages.filter((s): s is Stage => s !== undefined);
}

/** Runs the stages over one request; always leaves a response on ctx. */
export async function runPipeline(stages: readonly Stage[], ctx: RequestContext): Promise<GatewayResponse> {
  for (const stage of stages) {
    if (stage.phase === 'request' && ctx.response) continue;
    try {
      await stage.run(ctx);
    } catch (err) {
      ctx.response = responseForError(ctx.format, err, stage.name, ctx);
    }
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
