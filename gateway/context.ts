/**
 * The request context every pipeline stage sees, and the response shape stages hand on.
 * Kept in one place so stages written separately agree on what a request carries.
 */
import type { Logger } from 'pino';
import type { EffectivePolicy } from '../policies/types.js';
import type { RequestTrace } from '../platform/telemetry/tracing.js';

/** Which API a route speaks; decides error shapes and stream framing. */
export type WireFormat = 'openai' | 'anthropic';
import type { RouteKind } from '../models/adapters/types.js';

export type { RouteKind };

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** One Server-Sent Event as it travels through the gateway (data kept as the upstream's text). */
export interface SseEvent {
  event?: string;
  id?: string;
  /** Joined `data:` lines; absent for a pure comment (keep-alive) frame. */
  data?: string;
  /** Text of a `:` comment line, passed on as a keep-alive. */
  comment?: string;
}

export type ResponseHeaders = Record<string, string>;

export type GatewayResponse =
  /** A JSON body. `bytes` holds the upstream's exact bytes while no stage has changed `body`. */
  | { kind: 'json'; status: number; headers: ResponseHeaders; body: JsonValue; bytes?: Uint8Array }
  /** An SSE stream, pulled lazily; stages wrap `events` to observe or rewrite it. */
  | { kind: 'sse'; status: number; headers: ResponseHeaders; events: AsyncIterable<SseEvent> }
  /** Anything else (non-JSON upstream body), passed on unchanged. */
  | { kind: 'raw'; status: number; headers: ResponseHeaders; body: Uint8Array };

/** Who is calling, as established by the authenticate stage. */
export interface Caller {
  tenantId: string;
  userId: string;
  role: string;
  /** Goose's `agent-session-id` header (older Goose: `goose-session-id`; others: `x-switchboard-session-id`). */
  sessionId?: string;
  /** `x-switchboard-task-id` header, for per-task metering. */
  taskId?: string;
}

/** How a request ended, handed to finish hooks (metering, audit, cache store). */
export interface RequestOutcome {
  status: number;
  /** True when the whole body reached the client (a stream ran to its end). */
  completed: boolean;
  /** Client went away before the end. */
  clientAborted: boolean;
  /** Set when the upstream failed mid-stream or the gateway failed. */
  error?: string;
  totalMs: number;
}

export type FinishHook = (outcome: RequestOutcome) => void | Promise<void>;

/** Facts stages record for later stages, logs and audit. Values here are never sensitive. */
export interface RequestNotes {
  /** Privacy Guard summary: class → count (no values). */
  redactions?: Record<string, number>;
  /** Privacy Guard findings in detect-only mode: class → count (no values). */
  detections?: Record<string, number>;
  guardMode?: string;
  cache?: 'hit' | 'miss' | 'bypass';
  downshift?: { from: string; to: string; rule: string; reason: string };
  /** Budget pressure computed by budgetCheck, read by downshift rules. */
  budget?: { state: 'ok' | 'soft' | 'hard'; scope: string; window: string; spentUsd: number; limitUsd: number };
  /** Kind of task, if recognised (chat, summary, title, compaction, permission, or header value). */
  taskKind?: string;
  usage?: { promptTokens: number; completionTokens: number; cachedTokens: number; estimated: boolean };
  costUsd?: number;
  /** Reason a request was denied by policy/guard/budget, for audit. */
  denied?: { stage: string; reason: string };
}

export interface UpstreamInfo {
  name: string;
  attempts: number;
  /** Time from sending the request to the upstream's response headers. */
  ms: number;
  /** Model actually sent upstream (after downshift or fallback mapping). */
  model?: string;
  /** True when a fallback upstream (not the first configured) answered. */
  fallback?: boolean;
  /**
   * Earlier attempts that failed after the request body went out (connection lost, timeout,
   * HTTP 500): the upstream may have run and billed them, so the meter counts their estimate.
   */
  uncertainAttempts?: number;
}

export interface RequestContext {
  readonly id: string;
  readonly route: RouteKind;
  readonly format: WireFormat;
  readonly method: 'GET' | 'POST';
  /** performance.now() when the request arrived. */
  readonly receivedAt: number;
  /** The caller's request headers (lower-case names). */
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Body to send upstream; request stages transform it in place or replace it. */
  body: JsonObject | undefined;
  /** Whether the client asked for a stream. */
  readonly stream: boolean;
  /** Model the client asked for (before any downshift). */
  readonly requestedModel: string | undefined;
  caller?: Caller;
  policy?: EffectivePolicy;
  /** Set by a request stage to answer early (auth failure, block, cache hit) or by forward. */
  response?: GatewayResponse;
  upstream?: UpstreamInfo;
  readonly notes: RequestNotes;
  /** Aborted when the client disconnects; pass it to anything that waits. */
  readonly signal: AbortSignal;
  readonly log: Logger;
  /** OpenTelemetry trace of this request; absent when tracing is off. runPipeline adds a span per stage. */
  readonly trace?: RequestTrace;
  /** Run after the response has been fully written (or aborted). */
  onFinish(hook: FinishHook): void;
}

/**
 * A pipeline stage: look at the request, maybe answer or transform it, hand on.
 * Request-phase stages run in order until one sets `ctx.response`; response-phase stages
 * always run, in order, and may wrap `ctx.response` (e.g. a stream) or register finish hooks.
 */
export interface Stage {
  readonly name: string;
  readonly phase: 'request' | 'response';
  run(ctx: RequestContext): void | Promise<void>;
}
