/**
 * Puts the trace of the request being served on every pino line written while serving it.
 *
 * The tracing here registers no global OpenTelemetry context manager (two services, or many test
 * servers, share one process: see tracing.ts), so "the active OTel context" of a request is its
 * RequestTrace, carried through the request's async work by an AsyncLocalStorage. The pino
 * `mixin` reads it: `traceId`, and `spanId` of the span running now (the pipeline stage, else the
 * request's root span). Ids only: nothing from the request itself, so no secret can ride along.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { RequestTrace } from './tracing.js';

const activeTrace = new AsyncLocalStorage<RequestTrace>();

/** Runs `work` (and everything it starts) as part of `trace`; without a trace, just runs it. */
export function runInTrace<T>(trace: RequestTrace | undefined, work: () => T): T {
  return trace ? activeTrace.run(trace, work) : work();
}

/** pino `mixin`: the active trace's ids, or nothing outside a traced request. */
export function traceLogMixin(): { traceId?: string; spanId?: string } {
  const trace = activeTrace.getStore();
  if (!trace) return {};
  return { traceId: trace.traceId, spanId: (trace.current ?? trace.root).spanContext().spanId };
}
