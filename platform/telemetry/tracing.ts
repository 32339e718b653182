/**
 * OpenTelemetry tracing for the gateway and the controller. Each service builds its own
 * provider (no global registration, no auto-instrumentation): two services, or many test
 * servers, can live in one process, and nothing patches modules on the hot path.
 *
 * A request gets one RequestTrace. Unsampled requests still get a trace id (for the audit event,
 * logs and the `traceparent` sent on) but no child spans are allocated: `child()` returns
 * undefined and callers skip their span work.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace, type Attributes, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { resources, tracing } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { join } from 'node:path';
import type { TelemetryConfig } from './config.js';
import { FileSpanExporter } from './file-exporter.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/** The caller's W3C trace context as an OTel parent context, or ROOT_CONTEXT when absent or malformed. */
export function parentFromTraceparent(header: string | string[] | undefined): Context {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return ROOT_CONTEXT;
  const m = TRACEPARENT.exec(value.trim().toLowerCase());
  if (!m || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, { traceId: m[1]!, spanId: m[2]!, traceFlags: parseInt(m[3]!, 16) & 1, isRemote: true });
}

/** `traceparent` header value naming `span` as the parent of the next hop. */
export function traceparentOf(span: Span): string {
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-${c.traceFlags & TraceFlags.SAMPLED ? '01' : '00'}`;
}

/** The trace of one request: a root span, and child spans only when sampled. */
export class RequestTrace {
  readonly sampled: boolean;
  /** The span running now (a pipeline stage), else the root: what `traceparent()` names. */
  current: Span | undefined;
  /** Name of the pipeline stage running now; finish hooks registered by it are traced under it. */
  stage: string | undefined;
  private readonly parent: Context | undefined;

  constructor(
    private readonly tracer: Tracer,
    readonly root: Span,
  ) {
    this.sampled = root.isRecording();
    this.parent = this.sampled ? trace.setSpan(ROOT_CONTEXT, root) : undefined;
  }

  get traceId(): string {
    return this.root.spanContext().traceId;
  }

  get spanId(): string {
    return this.root.spanContext().spanId;
  }

  /** A child of the root span; undefined when this request is not sampled. */
  child(name: string, attributes?: Attributes, kind: SpanKind = SpanKind.INTERNAL): Span | undefined {
    if (!this.parent) return undefined;
    return this.tracer.startSpan(name, { kind, ...(attributes ? { attributes } : {}) }, this.parent);
  }

  /** `traceparent` for a call this request makes (upstream, controller). */
  traceparent(): string {
    return traceparentOf(this.current ?? this.root);
  }

  end(attributes: Attributes, failed: boolean): void {
    if (this.sampled) {
      this.root.setAttributes(attributes);
      if (failed) this.root.setStatus({ code: SpanStatusCode.ERROR });
    }
    this.root.end();
  }
}

/** Ends a span with an error status; the message is a class of failure, never request content. */
export function failSpan(span: Span, reason: string): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: reason });
}

export interface Tracing {
  /** False when traces are 'off': callers skip tracing entirely. */
  readonly enabled: boolean;
  readonly tracer: Tracer;
  /** Starts the root span of an incoming request, continuing the caller's trace when it sent one. */
  startRequest(name: string, traceparent: string | string[] | undefined, attributes?: Attributes): RequestTrace;
  /** Starts a root span for work this service begins itself (sync, audit shipping). */
  startInternal(name: string, attributes?: Attributes): RequestTrace;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  service: string;
  dataDir: string;
  config: TelemetryConfig;
}

export function createTracing(opts: TracingOptions): Tracing | undefined {
  const { config } = opts;
  if (config.traces === 'off') return undefined;
  const exporter =
    config.traces === 'otlp'
      ? new OTLPTraceExporter({ url: `${config.otlpEndpoint!.replace(/\/+$/, '')}/v1/traces` })
      : new FileSpanExporter(join(opts.dataDir, 'traces', `${opts.service}.jsonl`), config.traceFileMaxBytes);
  const provider = new tracing.BasicTracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': `switchboard-${opts.service}` }),
    // Honour a caller's sampled flag; otherwise trace a fixed share of requests by trace id.
    sampler: new tracing.ParentBasedSampler({ root: new tracing.TraceIdRatioBasedSampler(config.sampleRatio) }),
    spanProcessors: [new tracing.BatchSpanProcessor(exporter, { scheduledDelayMillis: 2000, maxQueueSize: 4096 })],
  });
  const tracer = provider.getTracer('switchboard');
  return {
    enabled: true,
    tracer,
    startRequest(name, traceparent, attributes) {
      const span = tracer.startSpan(name, { kind: SpanKind.SERVER, ...(attributes ? { attributes } : {}) }, parentFromTraceparent(traceparent));
      return new RequestTrace(tracer, span);
    },
    startInternal(name, attributes) {
      return new RequestTrace(tracer, tracer.startSpan(name, { kind: SpanKind.INTERNAL, ...(attributes ? { attributes } : {}) }, ROOT_CONTEXT));
    },
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
