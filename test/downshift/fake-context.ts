/** A RequestContext for calling one stage's run() directly, with finish hooks the test can fire. */
import pino from 'pino';
import type { FinishHook, JsonObject, RequestContext, RequestOutcome, RouteKind, WireFormat } from '../../gateway/context.js';

export interface FakeContext extends RequestContext {
  finish(outcome?: Partial<RequestOutcome>): Promise<void>;
}

export function fakeContext(opts: {
  body?: JsonObject;
  headers?: Record<string, string>;
  route?: RouteKind;
  format?: WireFormat;
  role?: string;
  tenantId?: string;
}): FakeContext {
  const hooks: FinishHook[] = [];
  const body = opts.body;
  return {
    id: 'req-test',
    route: opts.route ?? 'chat',
    format: opts.format ?? 'openai',
    method: 'POST',
    receivedAt: performance.now(),
    headers: opts.headers ?? {},
    body,
    stream: body?.stream === true,
    requestedModel: typeof body?.model === 'string' ? body.model : undefined,
    caller: { tenantId: opts.tenantId ?? 'acme', userId: 'u1', role: opts.role ?? 'engineering' },
    notes: {},
    signal: new AbortController().signal,
    log: pino({ level: 'silent' }),
    onFinish: (hook) => hooks.push(hook),
    async finish(outcome = {}) {
      for (const hook of hooks) await hook({ status: 200, completed: true, clientAborted: false, totalMs: 1, ...outcome });
    },
  };
}
