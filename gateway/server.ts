/**
 * The gateway's HTTP surface (fastify): OpenAI- and Anthropic-compatible routes under every
 * prefix Goose's providers use, health probes, and gateway-made errors in the caller's format.
 * Each model call becomes a RequestContext run through the pipeline, then written out raw.
 */
import { hash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { FinishHook, JsonObject, RequestContext, RequestNotes, RouteKind, WireFormat } from './context.js';
import type { GatewayConfig } from './config.js';
import { GatewayError, errorBody } from './errors.js';
import { runPipeline } from './pipeline.js';
import { parseRequestBody } from './wire/raw-request.js';
import { eventOrClose, writeResponse } from './respond.js';
import { createGatewayServices, type GatewayServices } from './services.js';
import { presentedToken } from './stages/authenticate.js';
import { classifyOutcome } from './stages/audit.js';
import { endGatewayTrace, recordGatewayRequest, redactionCount } from './telemetry/gateway-request.js';
import { failSpan, type RequestTrace } from '../platform/telemetry/tracing.js';
import { runInTrace } from '../platform/telemetry/log-context.js';
import { PROMETHEUS_CONTENT_TYPE } from '../platform/telemetry/metrics.js';

/**
 * Path prefixes served: plain OpenAI (`/v1`), OpenRouter-style (`/api/v1`, for Goose's openrouter
 * provider with OPENROUTER_HOST), and `/goose/v1` (the declarative provider base_url that keeps
 * Goose on Chat Completions for gpt-5/o-series ids), plus versionless `/goose`.
 */
export const ROUTE_PREFIXES = ['/v1', '/api/v1', '/goose/v1', '/goose'] as const;

const chatBodySchema = {
  type: 'object',
  required: ['model', 'messages'],
  properties: { model: { type: 'string', minLength: 1 }, messages: { type: 'array' }, stream: { type: 'boolean' } },
} as const;
const messagesBodySchema = {
  type: 'object',
  required: ['model', 'messages'],
  properties: { model: { type: 'string', minLength: 1 }, messages: { type: 'array' }, stream: { type: 'boolean' } },
} as const;
/** OpenAI Responses: `input` is a string or an array of items; `instructions` a string. */
const responsesBodySchema = {
  type: 'object',
  required: ['model', 'input'],
  properties: {
    model: { type: 'string', minLength: 1 },
    input: { anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'object' } }] },
    instructions: { type: ['string', 'null'] },
    tools: { type: 'array', items: { type: 'object' } },
    stream: { type: 'boolean' },
  },
} as const;
const embeddingsBodySchema = {
  type: 'object',
  required: ['model', 'input'],
  properties: { model: { type: 'string', minLength: 1 } },
} as const;

interface ModelRoute {
  path: string;
  route: RouteKind;
  format: WireFormat;
  method: 'GET' | 'POST';
  schema?: object;
}

const modelRoutes: ModelRoute[] = ROUTE_PREFIXES.flatMap((prefix) => [
  { path: `${prefix}/chat/completions`, route: 'chat', format: 'openai', method: 'POST', schema: chatBodySchema },
  { path: `${prefix}/messages`, route: 'messages', format: 'anthropic', method: 'POST', schema: messagesBodySchema },
  { path: `${prefix}/responses`, route: 'responses', format: 'openai', method: 'POST', schema: responsesBodySchema },
  { path: `${prefix}/embeddings`, route: 'embeddings', format: 'openai', method: 'POST', schema: embeddingsBodySchema },
  { path: `${prefix}/models`, route: 'models', format: 'openai', method: 'GET' },
]);

function formatForUrl(url: string): WireFormat {
  return url.split('?')[0]!.endsWith('/messages') ? 'anthropic' : 'openai';
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

export interface GatewayServerOptions {
  config: GatewayConfig;
  dataDir: string;
  logger: Logger;
  env?: NodeJS.ProcessEnv;
  /** Clock for circuit-breaker cooldowns (tests inject one); default Date.now. */
  clock?: () => number;
  controller?: import('./bundles/controller-link-config.js').ControllerLinkConfig;
}

export interface GatewayServer {
  app: FastifyInstance;
  services: GatewayServices;
  /** Starts listening; resolves to the bound base URL (e.g. http://127.0.0.1:8787). */
  listen(): Promise<string>;
  close(): Promise<void>;
}

export async function createGatewayServer(opts: GatewayServerOptions): Promise<GatewayServer> {
  const services = await createGatewayServices(opts);
  const log = opts.logger;
  const app = Fastify({
    logger: false,
    bodyLimit: opts.config.bodyLimitBytes,
    // Keep bodies exactly as sent: no type coercion, no defaults, no property removal.
    ajv: { customOptions: { coerceTypes: false, useDefaults: false, removeAdditional: false, allErrors: false } },
    forceCloseConnections: true,
    return503OnClosing: true,
    keepAliveTimeout: 65_000,
  });

  // Model routes take JSON only: a text/plain body would otherwise reach schema validation as a string.
  app.removeContentTypeParser('text/plain');
  // Parsed from the bytes, which are kept beside the body: the upstream payload reuses the
  // bytes of every message nothing changed (wire/raw-request.ts).
  const previousTurns = services.previousTurns;
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (req, raw, done) => {
    const bytes = raw as Buffer;
    if (bytes.length === 0) {
      done(new GatewayError(400, 'Request body is empty; send a JSON object', 'invalid_request_error', 'empty_body'), undefined);
      return;
    }
    try {
      // Kept turns are looked up per credential, before authentication: a caller only ever
      // reuses what was parsed from its own earlier requests.
      const token = previousTurns ? presentedToken(req.headers) : undefined;
      done(null, parseRequestBody(bytes, previousTurns && token ? { store: previousTurns, partition: hash('sha256', token, 'base64') } : undefined));
    } catch (err) {
      done(new GatewayError(400, `Request body is not valid JSON: ${(err as Error).message}`, 'invalid_request_error', 'invalid_json'), undefined);
    }
  });

  app.setErrorHandler((err: unknown, request, reply) => {
    const format = formatForUrl(request.url);
    const gatewayError = toGatewayError(err, opts.config.bodyLimitBytes);
    // Path only (a query string may carry keys) and never the message: a JSON parse error quotes the body.
    const path = request.url.split('?')[0];
    if (gatewayError.status >= 500) log.error({ err, path }, 'gateway error');
    else log.info({ path, method: request.method, status: gatewayError.status, code: gatewayError.code }, 'request rejected');
    void reply.code(gatewayError.status).headers(gatewayError.headers).send(errorBody(format, gatewayError));
  });

  app.setNotFoundHandler((request, reply) => {
    const format = formatForUrl(request.url);
    const path = request.url.split('?')[0];
    const err = new GatewayError(404, `Unknown route ${request.method} ${path}`, 'invalid_request_error', 'unknown_route');
    log.info({ path, method: request.method, status: 404, code: err.code }, 'request rejected');
    void reply.code(404).send(errorBody(format, err));
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const upstreams = services.upstreams.status();
    // A controller-linked gateway without a valid bundle refuses requests (or masks everything
    // on the safe default): not ready, and the policy section says why.
    const policy = services.controllerLink.policyStatus();
    const ready = upstreams.some((u) => u.state !== 'open') && policy.ready;
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', policy, upstreams });
  });

  // Metrics behind the local token: model names and volumes are nobody else's business.
  const expectedToken = Buffer.from(services.localToken);
  app.get('/metrics', async (request, reply) => {
    const token = presentedToken(request.headers);
    const given = token ? Buffer.from(token) : undefined;
    if (!given || given.length !== expectedToken.length || !timingSafeEqual(given, expectedToken)) {
      const err = new GatewayError(401, 'Metrics need the gateway token: send "Authorization: Bearer <token>" (see `switchboard token`)', 'authentication_error', 'invalid_token');
      return reply.code(401).send(errorBody('openai', err));
    }
    return reply.header('content-type', PROMETHEUS_CONTENT_TYPE).send(await services.metrics.prometheusText());
  });

  for (const def of modelRoutes) {
    app.route({
      method: def.method,
      url: def.path,
      ...(def.schema ? { schema: { body: def.schema } } : {}),
      handler: (request, reply) => {
        const trace = services.tracing?.startRequest('gateway.request', request.headers['traceparent']);
        // Everything the request does, log lines included, runs inside its trace (log-context.ts).
        return trackInFlight(runInTrace(trace, () => handleModelCall(def, request, reply, trace)));
      },
    });
  }

  // Model calls still running their finish hooks (audit, metering): close() waits for them
  // before the database closes, so a shutdown does not drop their records.
  const inFlight = new Set<Promise<void>>();
  function trackInFlight(call: Promise<void>): Promise<void> {
    inFlight.add(call);
    void call.finally(() => inFlight.delete(call)).catch(() => undefined);
    return call;
  }

  async function handleModelCall(def: ModelRoute, request: FastifyRequest, reply: FastifyReply, trace: RequestTrace | undefined): Promise<void> {
    const receivedAt = performance.now();
    const abort = new AbortController();
    const res = reply.raw;
    const onClose = () => {
      if (!res.writableFinished) abort.abort(new Error('client disconnected'));
    };
    res.on('close', onClose);

    const headerId = request.headers['x-request-id'];
    const id = typeof headerId === 'string' && REQUEST_ID.test(headerId) ? headerId : randomUUID();
    const body = def.method === 'POST' ? (request.body as JsonObject) : undefined;
    const finishHooks: FinishHook[] = [];
    // Stage that registered each finish hook, so its work is traced under that stage's name.
    const hookStages: Array<string | undefined> | undefined = trace?.sampled ? [] : undefined;
    const notes: RequestNotes = {};
    const ctx: RequestContext = {
      id,
      route: def.route,
      format: def.format,
      method: def.method,
      receivedAt,
      headers: request.headers,
      body,
      stream: body?.stream === true,
      requestedModel: typeof body?.model === 'string' ? body.model : undefined,
      notes,
      signal: abort.signal,
      log,
      ...(trace ? { trace } : {}),
      onFinish: (hook) => {
        finishHooks.push(hook);
        hookStages?.push(trace?.stage);
      },
    };

    const response = await runPipeline(services.stages, ctx);
    reply.hijack();
    const streamSpan = trace?.child('stream');
    const written = await writeResponse(res, response, ctx.format, { 'x-request-id': id }).catch((err: unknown) => {
      log.error({ err, reqId: id }, 'writing the response failed');
      if (!res.headersSent) res.writeHead(500);
      res.destroy();
      return { completed: false, clientAborted: false, error: 'response write failed' };
    });
    res.off('close', onClose);
    if (streamSpan) {
      if (!written.completed) failSpan(streamSpan, written.clientAborted ? 'client aborted' : 'incomplete');
      streamSpan.end();
    }
    // A response that did not complete must not leave its upstream request running: the socket's
    // 'close' can come after the writer has already noticed the client is gone.
    if (!written.completed && !abort.signal.aborted) abort.abort(new Error(written.clientAborted ? 'client disconnected' : 'response not completed'));
    const totalMs = performance.now() - receivedAt;
    const outcome = { status: response.status, totalMs, ...written };
    // Hooks may do synchronous work (pricing, tokenizing, db writes): let the last bytes leave first.
    if (finishHooks.length > 0) await flushed(res);
    for (let i = 0; i < finishHooks.length; i++) {
      const span = hookStages ? trace?.child(hookStages[i] ?? 'finish') : undefined;
      try {
        await finishHooks[i]!(outcome);
      } catch (err) {
        log.error({ err, reqId: id }, 'finish hook failed');
        if (span) failSpan(span, 'finish hook failed');
      }
      span?.end();
    }
    const { action, result } = classifyOutcome(ctx, outcome);
    const redactions = redactionCount(ctx);
    recordGatewayRequest(services.metrics, ctx, outcome, result);
    endGatewayTrace(ctx, outcome, result, redactions);
    log.info(
      {
        reqId: id,
        traceId: trace?.traceId,
        spanId: trace?.spanId,
        tenantId: ctx.caller?.tenantId,
        actor: ctx.caller?.userId,
        action,
        result,
        redactions,
        route: def.route,
        model: ctx.requestedModel,
        upstreamModel: ctx.upstream?.model,
        upstream: ctx.upstream?.name,
        attempts: ctx.upstream?.attempts,
        status: response.status,
        totalMs: round(totalMs),
        upstreamMs: ctx.upstream ? round(ctx.upstream.ms) : undefined,
        completed: written.completed,
        clientAborted: written.clientAborted || undefined,
        streamError: written.error,
        notes,
      },
      'request',
    );
  }

  return {
    app,
    services,
    async listen() {
      return app.listen({ host: opts.config.host, port: opts.config.port });
    },
    async close() {
      await app.close();
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      await services.close();
    },
  };
}

/** Resolves once the response's bytes are handed to the OS (or the connection is gone). */
function flushed(res: ServerResponse): Promise<void> {
  if (res.writableFinished || res.destroyed) return Promise.resolve();
  return eventOrClose(res, 'finish');
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

function toGatewayError(err: unknown, bodyLimit: number): GatewayError {
  if (err instanceof GatewayError) return err;
  const e = err as { statusCode?: number; code?: string; message?: string; validation?: unknown };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new GatewayError(413, `Request body is larger than the gateway's limit of ${bodyLimit} bytes`, 'invalid_request_error', 'body_too_large');
  }
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new GatewayError(415, 'Unsupported content type: send Content-Type: application/json', 'invalid_request_error', 'unsupported_media_type');
  }
  if (e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY') {
    return new GatewayError(400, 'Request body is empty; send a JSON object', 'invalid_request_error', 'empty_body');
  }
  if (e.validation) {
    const detail = (e.message ?? '').replace(/^body\//, '').replace(/^body\b/, 'request body');
    return new GatewayError(400, `Invalid request: ${detail}`, 'invalid_request_error', 'invalid_request');
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    return new GatewayError(e.statusCode, e.message ?? 'Bad request', 'invalid_request_error');
  }
  return new GatewayError(500, 'Internal gateway error', 'server_error');
}
