/**
 * Traces, metrics and the request log line for every controller route, from fastify hooks on
 * the root instance: any area plugin (the mesh routes included) is covered without doing
 * anything itself. Also serves `GET /metrics` (Prometheus text).
 *
 * Span and metric names use the route template (`/api/v1/directory/:nodeId`), never the URL, so
 * ids and query strings stay out of label sets and span names.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RequestTrace, Tracing } from '../platform/telemetry/tracing.js';
import { failSpan } from '../platform/telemetry/tracing.js';
import { runInTrace } from '../platform/telemetry/log-context.js';
import { PROMETHEUS_CONTENT_TYPE, type ServiceMetrics } from '../platform/telemetry/metrics.js';

export interface ControllerTelemetry {
  tracing: Tracing | undefined;
  metrics: ServiceMetrics;
}

interface RequestTelemetry {
  trace: RequestTrace | undefined;
  startedAt: number;
}

const perRequest = new WeakMap<FastifyRequest, RequestTelemetry>();

/** The trace of a controller request, for routes that call onwards and pass `traceparent` on. */
export function requestTrace(request: FastifyRequest): RequestTrace | undefined {
  return perRequest.get(request)?.trace;
}

export function installControllerTelemetry(app: FastifyInstance, telemetry: ControllerTelemetry): void {
  const { tracing, metrics } = telemetry;

  // Callback style on purpose: the rest of the request (hooks, handler, services' log lines) runs
  // inside `done`, so it inherits the request's trace (platform/telemetry/log-context.ts).
  app.addHook('onRequest', (request, _reply, done) => {
    const route = request.routeOptions.url ?? 'unknown';
    const trace = tracing?.startRequest(`${request.method} ${route}`, request.headers['traceparent'], {
      'http.request.method': request.method,
      'http.route': route,
    });
    perRequest.set(request, { trace, startedAt: performance.now() });
    runInTrace(trace, done);
  });

  app.addHook('onResponse', async (request: FastifyRequest, reply: FastifyReply) => {
    const state = perRequest.get(request);
    if (!state) return;
    const route = request.routeOptions.url ?? 'unknown';
    const status = reply.statusCode;
    const seconds = (performance.now() - state.startedAt) / 1000;
    const caller = request.caller;
    const result = status < 400 ? 'ok' : status === 401 || status === 403 ? 'denied' : 'error';
    metrics.recordRequest({ route, method: request.method, status, seconds }, status >= 500);
    if (state.trace) {
      if (state.trace.sampled) {
        state.trace.root.setAttribute('http.response.status_code', status);
        if (caller) state.trace.root.setAttribute('switchboard.actor', caller.subject);
        if (status >= 500) failSpan(state.trace.root, `HTTP ${status}`);
      }
      state.trace.end({}, false);
    }
    if (route === '/metrics' || route === '/healthz') return;
    const tenant = caller?.claims['tenant'];
    request.log.info(
      {
        traceId: state.trace?.traceId,
        spanId: state.trace?.spanId,
        tenantId: typeof tenant === 'string' ? tenant : undefined,
        actor: caller?.subject,
        action: `${request.method} ${route}`,
        result,
        status,
        ms: Math.round(seconds * 100_000) / 100,
      },
      'controller request',
    );
  });

  app.get('/metrics', {
    config: { auth: 'public' },
    schema: {
      summary: 'Prometheus metrics (request rate, latency, errors, routing and approval times)',
      security: [],
      produces: ['text/plain'],
      response: { 200: { type: 'string' } },
    },
  }, async (_request, reply) => reply.header('content-type', PROMETHEUS_CONTENT_TYPE).send(await metrics.prometheusText()));
}
