/**
 * Sends a request to the first healthy upstream, with a circuit breaker per upstream and an
 * ordered fallback list (e.g. a local Ollama) used when earlier upstreams are down or open.
 *
 * Retries happen only before the first byte reaches the client, with exponential backoff and
 * jitter (Retry-After honoured):
 * - freely when the request never went out (connection refused, DNS, connect timeout) and on
 *   429/502/503/504, which say the upstream did not run it;
 * - once per request when it may have run: a connection lost after the body was sent, or an
 *   HTTP 500. Such attempts are reported as `uncertainAttempts` and metered at their estimate.
 * The breaker counts transport failures, timeouts and 502/503/504, including a stream that
 * breaks after it started; other answers (2xx, 4xx, 500) show the upstream is up.
 */
import { Agent, request, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { JsonObject, RouteKind } from '../context.js';
import type { GatewayConfig, UpstreamConfig } from '../config.js';
import { GatewayError } from '../errors.js';
import { adapters, type UpstreamAdapter } from '../../models/adapters/index.js';
import { CircuitBreaker, type BreakerState } from './breaker.js';
import { RETRYABLE_STATUS, backoffMs, errorCode, isRetryableError, parseRetryAfter, sleep, type RetryPolicy } from './retry.js';
import { bodyWentOut, trackedBody } from './body-sent.js';
import { requestPayload } from '../wire/raw-request.js';

export interface UpstreamRequest {
  route: RouteKind;
  method: 'GET' | 'POST';
  body: JsonObject | undefined;
  /** Caller headers already filtered for forwarding (no hop-by-hop, no caller auth). */
  headers: Record<string, string>;
  signal: AbortSignal;
}

export interface UpstreamReply {
  upstream: string;
  attempts: number;
  /** Milliseconds from the winning attempt's send to its response headers. */
  ms: number;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  /** Model sent upstream when it differs from the request's (fallback mapping). */
  model?: string;
  /** True when a fallback upstream (not the first) answered. */
  fallback?: boolean;
  /** Failed attempts the upstream may have run: body sent, then a lost connection, timeout or 500. */
  uncertainAttempts?: number;
}

/** What each route is called in a "not served" message. */
const ROUTE_API: Record<RouteKind, string> = {
  chat: 'Chat Completions API (/chat/completions)',
  messages: 'Anthropic Messages API (/messages)',
  responses: 'OpenAI Responses API (/responses)',
  embeddings: 'embeddings API (/embeddings)',
  models: 'models list (/models)',
};

interface Target {
  config: UpstreamConfig;
  adapter: UpstreamAdapter;
  apiKey: string | undefined;
  breaker: CircuitBreaker;
  dispatcher: Agent;
}

export class UpstreamRouter {
  private readonly targets: Target[];
  private readonly retry: RetryPolicy;

  constructor(config: GatewayConfig, env: NodeJS.ProcessEnv, private readonly log: Logger, clock: () => number = Date.now) {
    this.retry = config.retry;
    this.targets = config.upstreams.map((u, index) => ({
      config: u,
      adapter: adapters[u.kind],
      // SWITCHBOARD_UPSTREAM_KEY overrides the primary's key; otherwise each upstream's own env var.
      apiKey: (index === 0 ? env.SWITCHBOARD_UPSTREAM_KEY : undefined) || (u.apiKeyEnv ? env[u.apiKeyEnv] : undefined) || undefined,
      breaker: new CircuitBreaker(config.breaker.failureThreshold, config.breaker.cooldownMs, clock),
      dispatcher: new Agent({
        connections: 512,
        keepAliveTimeout: 30_000,
        connectTimeout: config.timeouts.connectMs,
        headersTimeout: config.timeouts.headersMs,
        bodyTimeout: config.timeouts.bodyIdleMs,
      }),
    }));
  }

  /** Upstream names and breaker states, for /readyz. */
  status(): Array<{ name: string; kind: string; state: BreakerState; hasKey: boolean }> {
    return this.targets.map((t) => ({ name: t.config.name, kind: t.config.kind, state: t.breaker.currentState, hasKey: Boolean(t.apiKey) }));
  }

  async send(req: UpstreamRequest): Promise<UpstreamReply> {
    const problems: string[] = [];
    /** Upstreams configured that have no endpoint for this route. */
    const unsupported: string[] = [];
    let attempts = 0;
    /** Failed attempts the upstream may have run (body sent, then no usable answer). */
    let uncertain = 0;
    /** A request whose body went out is sent again at most once (the second run may be billed too). */
    let repeatUsed = false;
    for (let i = 0; i < this.targets.length; i++) {
      const target = this.targets[i]!;
      const isLast = i === this.targets.length - 1;
      const url = target.adapter.url(target.config.baseUrl, req.route);
      if (!url) {
        problems.push(`${target.config.name}: no ${req.route} endpoint`);
        unsupported.push(`"${target.config.name}" (${target.config.kind})`);
        continue;
      }
      if (!target.breaker.tryAcquire()) {
        problems.push(`${target.config.name}: circuit open`);
        continue;
      }
      const model = i > 0 ? target.config.fallbackModel : undefined;
      const payload = req.body === undefined ? undefined : requestPayload(req.body, model || undefined);
      const headers: Record<string, string> = { ...req.headers, ...target.adapter.authHeaders(target.apiKey) };
      if (payload !== undefined) headers['content-type'] = 'application/json';
      const replyFacts = () => ({ upstream: target.config.name, attempts, ...(model ? { model } : {}), ...(i > 0 ? { fallback: true } : {}), ...(uncertain > 0 ? { uncertainAttempts: uncertain } : {}) });

      for (let attempt = 1; attempt <= this.retry.maxAttempts; attempt++) {
        attempts++;
        const sentAt = performance.now();
        const body = payload === undefined ? undefined : trackedBody(payload);
        let res: Dispatcher.ResponseData;
        try {
          res = await request(url, { method: req.method, headers, body, signal: req.signal, dispatcher: target.dispatcher });
        } catch (err) {
          if (req.signal.aborted) {
            // A client abort says nothing about the upstream: free a half-open probe for the next caller.
            target.breaker.releaseProbe();
            throw err;
          }
          // Transport failures and timeouts count against the breaker, before or after the body went out.
          target.breaker.recordFailure();
          const wentOut = body !== undefined && bodyWentOut(body);
          if (wentOut) uncertain++;
          const mayRetry = attempt < this.retry.maxAttempts && target.breaker.currentState === 'closed';
          // Not sent: retry freely. Sent: the upstream may be running it; retry once, never after a
          // headers timeout (that would stack another full timeout on the caller's own deadline).
          const retry = mayRetry && isRetryableError(err) && (!wentOut || !repeatUsed);
          if (retry) {
            if (wentOut) repeatUsed = true;
            this.log.debug({ upstream: target.config.name, attempt, code: errorCode(err), bodySent: wentOut }, 'upstream connect failed, retrying');
            await sleep(backoffMs(this.retry, attempt), req.signal);
            target.breaker.tryAcquire();
            continue;
          }
          problems.push(`${target.config.name}: ${describeError(err)}`);
          break;
        }
        const ms = performance.now() - sentAt;
        const status = res.statusCode;
        if (status === 500 && !repeatUsed && attempt < this.retry.maxAttempts) {
          // An upstream 500 may have been billed: counted, and tried once more (nothing reached the client yet).
          repeatUsed = true;
          uncertain++;
          target.breaker.releaseProbe();
          await res.body.dump();
          this.log.debug({ upstream: target.config.name, attempt, status }, 'upstream failed with 500, retrying once');
          await sleep(backoffMs(this.retry, attempt), req.signal);
          target.breaker.tryAcquire();
          continue;
        }
        const reply: UpstreamReply = { ...replyFacts(), ms, status, headers: res.headers, body: res.body };
        if (!RETRYABLE_STATUS.has(status)) {
          // The verdict waits for the body: a stream that breaks after it started counts as a failure.
          target.breaker.recordHeaders();
          judgeWhenBodyEnds(res.body, target.breaker, req.signal);
          return reply;
        }
        // 429 means "slow down", not "down": it does not count against the breaker.
        if (status === 429) target.breaker.recordSuccess();
        else target.breaker.recordFailure();
        const hinted = parseRetryAfter(res.headers['retry-after']);
        const canRetryHere = attempt < this.retry.maxAttempts && (hinted === undefined || hinted <= this.retry.maxRetryAfterMs);
        if (canRetryHere && (status === 429 || target.breaker.currentState === 'closed')) {
          await res.body.dump();
          this.log.debug({ upstream: target.config.name, attempt, status }, 'upstream asked to retry');
          await sleep(hinted ?? backoffMs(this.retry, attempt), req.signal);
          if (status !== 429) target.breaker.tryAcquire();
          continue;
        }
        // Out of retries: a 429 goes back to the caller with its Retry-After (Goose honours it);
        // a 5xx fails over to the next upstream when there is one.
        if (status === 429 || isLast) return reply;
        await res.body.dump();
        problems.push(`${target.config.name}: HTTP ${status}`);
        break;
      }
    }
    if (unsupported.length === this.targets.length) {
      // Nothing to retry or wait for: the caller asked for an API no configured upstream speaks.
      throw new GatewayError(
        400,
        `The ${ROUTE_API[req.route]} is not served by upstream ${unsupported.join(', ')}; configure an upstream that serves it (openrouter or openai kind) or use another endpoint`,
        'invalid_request_error',
        'route_not_supported',
      );
    }
    throw new UpstreamUnavailableError(`No upstream could take the request (${problems.join('; ')})`, attempts, uncertain);
  }

  async close(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.dispatcher.close()));
  }
}

/** Every upstream failed; carries what the meter needs to count attempts the upstream may have run. */
export class UpstreamUnavailableError extends GatewayError {
  constructor(message: string, readonly attempts: number, readonly uncertainAttempts: number) {
    super(503, message, 'upstream_unavailable', 'upstream_unavailable');
  }
}

/**
 * Records the breaker verdict once the body is settled: read to its end is a success, a transport
 * error or body timeout a failure, and a body dropped early (client gone) no verdict at all.
 */
function judgeWhenBodyEnds(body: Dispatcher.ResponseData['body'], breaker: CircuitBreaker, signal: AbortSignal): void {
  let settled = false;
  const settle = (verdict: 'success' | 'failure' | 'none') => {
    if (settled) return;
    settled = true;
    if (verdict === 'success') breaker.recordSuccess();
    else if (verdict === 'failure') breaker.recordFailure();
    else breaker.releaseProbe();
  };
  body.once('end', () => settle('success'));
  body.once('error', () => settle(signal.aborted ? 'none' : 'failure'));
  body.once('close', () => settle('none'));
}

function describeError(err: unknown): string {
  const code = errorCode(err);
  const message = err instanceof Error ? err.message : String(err);
  return code ? `${code} ${message}` : message;
}
