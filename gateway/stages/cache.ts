/**
 * Exact cache stages.
 * - cacheLookup (request, after privacyGuard and downshift): keys the *masked* request as it
 *   will go upstream (downshifted model, capped output), so a cheaper model's answer is only
 *   ever served for a request that would itself be downshifted. A live entry answers at once
 *   (header `x-switchboard-cache: hit`), so budgetReserve and forward are skipped while
 *   reidentify, meter (cost 0, cache hit) and audit still run.
 * - cacheStore (response, before reidentify so only masked text is stored): records a
 *   cacheable miss as it streams past — without holding it back — and stores it in a finish
 *   hook only when the whole body reached the client, the status was 2xx, the stream ended
 *   with its end marker, and the answer is complete and successful (see cache/storable.ts).
 *   Nothing is stored when the request sent differs from the keyed one: a fallback upstream's
 *   model, or an output cap the budget set after the lookup.
 */
import type { RequestContext, SseEvent, Stage } from '../context.js';
import { cacheKey, isDeterministic } from '../cache/key.js';
import type { ExactCache } from '../cache/exact-cache.js';
import { CACHE_HEADER, isStreamEnd, replayResponse, responseIdOf } from '../cache/replay.js';
import { bodyForbidsStore, eventForbidsStore } from '../cache/storable.js';
import { classifyTaskKind } from '../downshift/task-kind.js';
import { peekCostState } from '../cost/request-state.js';

/** deterministic: only temperature-0 requests (and embeddings); always: every request; off: none. */
export type CacheMode = 'deterministic' | 'always' | 'off';

export interface CacheStageDeps {
  cache: ExactCache;
  /** Default mode; a policy's `cache.mode` section overrides it per role. */
  mode: CacheMode;
  /** Largest response recorded for storing (bytes of event/body text). */
  maxEntryBytes: number;
}

const CACHE_MODES: ReadonlySet<string> = new Set(['deterministic', 'always', 'off']);

function policyMode(ctx: RequestContext): CacheMode | undefined {
  const section = ctx.policy?.cache;
  if (section && typeof section === 'object' && 'mode' in section) {
    const mode = (section as { mode: unknown }).mode;
    if (typeof mode === 'string' && CACHE_MODES.has(mode)) return mode as CacheMode;
  }
  return undefined;
}

/** Caller opt-out: `x-switchboard-cache: bypass` (or `no-cache`) skips lookup and store. */
function callerBypasses(ctx: RequestContext): boolean {
  const v = ctx.headers[CACHE_HEADER];
  const value = (Array.isArray(v) ? v[0] : v)?.toLowerCase();
  return value === 'bypass' || value === 'no-cache' || value === 'no-store';
}

export function cacheStages(deps: CacheStageDeps): { lookup: Stage; store: Stage } {
  /** Key of each cacheable request, handed from lookup to store without widening RequestContext. */
  const keys = new WeakMap<RequestContext, { key: string; tenant: string; model: unknown }>();

  const lookup: Stage = {
    name: 'cacheLookup',
    phase: 'request',
    run(ctx) {
      const body = ctx.body;
      const tenant = ctx.caller?.tenantId;
      if (!body || !tenant || ctx.route === 'models') return;
      const mode = policyMode(ctx) ?? deps.mode;
      if (mode === 'off' || callerBypasses(ctx) || (mode === 'deterministic' && !isDeterministic(ctx.route, body))) {
        ctx.notes.cache = 'bypass';
        return;
      }
      const key = cacheKey({ tenantId: tenant, route: ctx.route, stream: ctx.stream, body });
      const entry = deps.cache.get(key);
      if (!entry) {
        ctx.notes.cache = 'miss';
        keys.set(ctx, { key, tenant, model: body.model });
        return;
      }
      ctx.notes.cache = 'hit';
      ctx.notes.taskKind ??= classifyTaskKind(body, ctx.headers);
      ctx.response = replayResponse(entry);
    },
  };

  const store: Stage = {
    name: 'cacheStore',
    phase: 'response',
    run(ctx) {
      const res = ctx.response;
      if (!res || ctx.notes.cache === 'hit') return;
      if (ctx.notes.cache === 'bypass') {
        res.headers[CACHE_HEADER] = 'bypass';
        return;
      }
      const slot = keys.get(ctx);
      if (!slot) return;
      res.headers[CACHE_HEADER] = 'miss';
      if (res.status < 200 || res.status >= 300 || res.kind === 'raw') return;
      // The request sent is not the one keyed: another model answered, or the budget capped the output.
      if (ctx.upstream?.fallback || (ctx.upstream?.model !== undefined && ctx.upstream.model !== slot.model)) return;
      if (peekCostState(ctx)?.cappedMaxTokens !== undefined) return;
      const contentType = res.headers['content-type'] ?? (res.kind === 'sse' ? 'text/event-stream' : 'application/json');

      if (res.kind === 'json') {
        // Captured now, before reidentify can touch the body.
        const text = res.bytes ? Buffer.from(res.bytes.buffer, res.bytes.byteOffset, res.bytes.byteLength).toString('utf8') : JSON.stringify(res.body);
        if (text.length > deps.maxEntryBytes || bodyForbidsStore(res.body)) return;
        const responseId = responseIdOf(res.body);
        const status = res.status;
        ctx.onFinish((outcome) => {
          if (!outcome.completed || outcome.error || outcome.status !== status) return;
          deps.cache.put(slot.key, slot.tenant, { kind: 'json', status, contentType, body: text, ...(responseId ? { responseId } : {}) });
        });
        return;
      }

      const recorded: SseEvent[] = [];
      let bytes = 0;
      let usable = true;
      let ended = false;
      let responseId: string | undefined;
      const upstream = res.events;
      res.events = (async function* record() {
        for await (const e of upstream) {
          if (usable && e.data !== undefined) {
            bytes += e.data.length + (e.event?.length ?? 0);
            if (bytes > deps.maxEntryBytes || eventForbidsStore(e)) {
              usable = false;
              recorded.length = 0;
            } else {
              if (responseId === undefined && e.data.charCodeAt(0) === 123 /* { */) responseId = idFromData(e.data);
              recorded.push(e.event !== undefined ? { event: e.event, data: e.data } : { data: e.data });
              if (isStreamEnd(e)) ended = true;
            }
          }
          yield e;
        }
      })();
      const status = res.status;
      ctx.onFinish((outcome) => {
        if (!usable || !ended || !outcome.completed || outcome.error || outcome.status !== status) return;
        deps.cache.put(slot.key, slot.tenant, { kind: 'sse', status, contentType, events: recorded, ...(responseId ? { responseId } : {}) });
      });
    },
  };

  return { lookup, store };
}

/** The completion id in an event's JSON, or '' when it has none (so later events are not parsed for it). */
function idFromData(data: string): string {
  try {
    return responseIdOf(JSON.parse(data)) ?? '';
  } catch {
    return '';
  }
}
