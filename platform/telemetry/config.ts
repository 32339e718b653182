/**
 * Telemetry settings shared by the gateway and the controller: where spans go, how many requests
 * are traced, and whether metrics are also pushed over OTLP. `gateway.telemetry:` in
 * switchboard.yaml, `--otlp-endpoint`/`--trace-sample-ratio` on the controller; the standard
 * OTEL_* variables override both.
 */

export type TraceExport = 'file' | 'otlp' | 'off';

export interface TelemetryConfig {
  /** Share of requests traced, 0..1. The seed asks for 5–10%; callers that send a sampled traceparent are always traced. */
  sampleRatio: number;
  /** 'file': JSON lines under <data-dir>/traces/ (default); 'otlp': to `otlpEndpoint`; 'off': no spans at all. */
  traces: TraceExport;
  /** OTLP/HTTP base URL (e.g. http://collector:4318); when set, metrics are pushed there too. */
  otlpEndpoint?: string;
  /** How often metrics are pushed over OTLP. */
  metricsIntervalMs: number;
  /** A trace file larger than this is rotated to `<name>.jsonl.1` (one old file kept). */
  traceFileMaxBytes: number;
}

export function defaultTelemetryConfig(): TelemetryConfig {
  return { sampleRatio: 0.05, traces: 'file', metricsIntervalMs: 30_000, traceFileMaxBytes: 50 * 1024 * 1024 };
}

export const telemetryConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    sampleRatio: { type: 'number', minimum: 0, maximum: 1 },
    traces: { enum: ['file', 'otlp', 'off'] },
    otlpEndpoint: { type: 'string', pattern: '^https?://' },
    metricsIntervalMs: { type: 'integer', minimum: 1000 },
    traceFileMaxBytes: { type: 'integer', minimum: 1024 },
  },
} as const;

/** Error for a telemetry setting a user got wrong (one clear line). */
export class TelemetryConfigError extends Error {}

/**
 * Defaults < file < environment. OTEL_EXPORTER_OTLP_ENDPOINT switches traces to OTLP unless the
 * file said 'off'; OTEL_TRACES_SAMPLER_ARG (or SWITCHBOARD_TRACE_SAMPLE_RATIO) sets the ratio.
 */
export function resolveTelemetryConfig(input: Partial<TelemetryConfig> | undefined, env: NodeJS.ProcessEnv): TelemetryConfig {
  const out: TelemetryConfig = { ...defaultTelemetryConfig(), ...input };
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (endpoint) {
    if (!/^https?:\/\//.test(endpoint)) throw new TelemetryConfigError('OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s):// URL');
    out.otlpEndpoint = endpoint;
    if (input?.traces === undefined) out.traces = 'otlp';
  }
  const ratio = env.SWITCHBOARD_TRACE_SAMPLE_RATIO ?? env.OTEL_TRACES_SAMPLER_ARG;
  if (ratio !== undefined && ratio !== '') out.sampleRatio = parseSampleRatio(ratio, 'the trace sample ratio');
  if (out.traces === 'otlp' && !out.otlpEndpoint) {
    throw new TelemetryConfigError('telemetry.traces is "otlp" but no endpoint is set (telemetry.otlpEndpoint or OTEL_EXPORTER_OTLP_ENDPOINT)');
  }
  return out;
}

export function parseSampleRatio(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new TelemetryConfigError(`${what} must be a number from 0 to 1 (got "${value}")`);
  return n;
}
