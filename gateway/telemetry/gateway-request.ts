/**
 * What one finished model call adds to metrics and to its root span. Built from ctx.notes,
 * ctx.upstream and the outcome only: counts, classes, model ids — never content.
 */
import type { RequestContext, RequestOutcome } from '../context.js';
import type { ServiceMetrics } from '../../platform/telemetry/metrics.js';

/** Total values replaced or found by the Privacy Guard in this request. */
export function redactionCount(ctx: RequestContext): number {
  const counts = ctx.notes.redactions ?? ctx.notes.detections;
  let n = 0;
  if (counts) for (const cls in counts) n += counts[cls] ?? 0;
  return n;
}

export function recordGatewayRequest(metrics: ServiceMetrics, ctx: RequestContext, outcome: RequestOutcome, result: string): void {
  const notes = ctx.notes;
  const model = ctx.upstream?.model ?? ctx.requestedModel;
  metrics.recordRequest({ route: ctx.route, status: outcome.status, seconds: outcome.totalMs / 1000 }, outcome.status >= 500 || Boolean(outcome.error) || result === 'error');
  if (notes.cache) metrics.recordCache(notes.cache);
  if (notes.downshift) metrics.recordDownshift(notes.downshift.from, notes.downshift.to, notes.downshift.rule);
  if (notes.usage && model) metrics.recordUsage(model, notes.usage, notes.costUsd);
  // Which upstream served the call is a routing decision (primary, or a fallback after failures).
  if (ctx.upstream) metrics.recordRouting(ctx.upstream.attempts > 1 ? 'retried' : 'direct', ctx.upstream.name);
}

/** Closes the request's root span with bounded, non-sensitive attributes. */
export function endGatewayTrace(ctx: RequestContext, outcome: RequestOutcome, result: string, redactions: number): void {
  const trace = ctx.trace;
  if (!trace) return;
  if (!trace.sampled) {
    trace.end({}, false);
    return;
  }
  const notes = ctx.notes;
  trace.end(
    {
      'switchboard.route': ctx.route,
      'http.response.status_code': outcome.status,
      'switchboard.result': result,
      'switchboard.completed': outcome.completed,
      'switchboard.redactions': redactions,
      ...(ctx.caller ? { 'switchboard.tenant': ctx.caller.tenantId, 'switchboard.role': ctx.caller.role } : {}),
      ...(ctx.requestedModel ? { 'gen_ai.request.model': ctx.requestedModel } : {}),
      ...(ctx.upstream?.model ? { 'gen_ai.response.model': ctx.upstream.model, 'switchboard.upstream': ctx.upstream.name } : {}),
      ...(notes.cache ? { 'switchboard.cache': notes.cache } : {}),
      ...(notes.downshift ? { 'switchboard.downshift.rule': notes.downshift.rule } : {}),
      ...(notes.usage ? { 'gen_ai.usage.input_tokens': notes.usage.promptTokens, 'gen_ai.usage.output_tokens': notes.usage.completionTokens } : {}),
      ...(notes.costUsd !== undefined ? { 'switchboard.cost_usd': notes.costUsd } : {}),
    },
    outcome.status >= 500 || Boolean(outcome.error),
  );
}
