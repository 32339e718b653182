/**
 * forward: sends the (possibly transformed) request upstream and turns the reply into a
 * GatewayResponse: SSE stays a lazy event stream, JSON is parsed once (bytes kept for fidelity).
 */
import type { GatewayResponse, JsonValue, RequestContext, ResponseHeaders, Stage } from '../context.js';
import { UpstreamUnavailableError, type UpstreamReply, type UpstreamRouter } from '../upstream/router.js';
import { parseSse } from '../sse.js';

/** Headers that belong to one connection or to the caller's auth, never forwarded. */
const DROPPED_REQUEST_HEADERS = new Set([
  'host', 'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'content-length', 'content-type', 'accept-encoding',
  'authorization', 'x-api-key', 'cookie', 'expect',
]);

const DROPPED_RESPONSE_HEADERS = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-connection', 'te', 'trailer', 'transfer-encoding',
  'upgrade', 'content-length', 'content-encoding', 'set-cookie', 'date', 'server',
]);

export interface ForwardOptions {
  /** OpenRouter app attribution, added when configured. */
  attribution?: { referer?: string; title?: string };
}

/** Extra hop-by-hop headers the sender named in `Connection` (RFC 9110 §7.6.1); undefined when none. */
function connectionNominated(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const tokens = (Array.isArray(value) ? value.join(',') : value).toLowerCase().split(',');
  const named = tokens.map((t) => t.trim()).filter((t) => t !== '' && t !== 'keep-alive' && t !== 'close');
  return named.length > 0 ? named : undefined;
}

export function forwardHeaders(headers: RequestContext['headers'], opts: ForwardOptions): Record<string, string> {
  const out: Record<string, string> = {};
  const nominated = connectionNominated(headers['connection']);
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || DROPPED_REQUEST_HEADERS.has(name) || name.startsWith('x-switchboard-')) continue;
    if (nominated?.includes(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  if (opts.attribution?.referer) out['http-referer'] = opts.attribution.referer;
  if (opts.attribution?.title) out['x-title'] = opts.attribution.title;
  return out;
}

export function responseHeaders(headers: UpstreamReply['headers']): ResponseHeaders {
  const out: ResponseHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || DROPPED_RESPONSE_HEADERS.has(name)) continue;
    out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

export async function toGatewayResponse(reply: UpstreamReply): Promise<GatewayResponse> {
  const headers = responseHeaders(reply.headers);
  const contentType = headers['content-type'] ?? '';
  if (contentType.includes('text/event-stream')) {
    return { kind: 'sse', status: reply.status, headers, events: parseSse(reply.body) };
  }
  const bytes = new Uint8Array(await reply.body.arrayBuffer());
  if (contentType.includes('json') || (bytes.length > 0 && (bytes[0] === 0x7b || bytes[0] === 0x5b))) {
    try {
      const body = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as JsonValue;
      return { kind: 'json', status: reply.status, headers, body, bytes };
    } catch {
      // Not JSON after all: pass it on untouched.
    }
  }
  return { kind: 'raw', status: reply.status, headers, body: bytes };
}

export function forwardStage(upstreams: UpstreamRouter, opts: ForwardOptions = {}): Stage {
  return {
    name: 'forward',
    phase: 'request',
    async run(ctx: RequestContext) {
      const sentModel = typeof ctx.body?.model === 'string' ? ctx.body.model : undefined;
      const headers = forwardHeaders(ctx.headers, opts);
      // The upstream call joins this request's trace (the forward span when sampled).
      if (ctx.trace) headers['traceparent'] = ctx.trace.traceparent();
      let reply: UpstreamReply;
      try {
        reply = await upstreams.send({
          route: ctx.route,
          method: ctx.method,
          body: ctx.body,
          headers,
          signal: ctx.signal,
        });
      } catch (err) {
        // No upstream answered, but some may have run the request: the meter counts those.
        if (err instanceof UpstreamUnavailableError && err.uncertainAttempts > 0) {
          ctx.upstream = { name: '', attempts: err.attempts, ms: 0, uncertainAttempts: err.uncertainAttempts, ...(sentModel ? { model: sentModel } : {}) };
        }
        throw err;
      }
      const model = reply.model ?? sentModel;
      ctx.upstream = {
        name: reply.upstream,
        attempts: reply.attempts,
        ms: reply.ms,
        ...(model ? { model } : {}),
        ...(reply.fallback ? { fallback: true } : {}),
        ...(reply.uncertainAttempts ? { uncertainAttempts: reply.uncertainAttempts } : {}),
      };
      ctx.response = await toGatewayResponse(reply);
    },
  };
}
