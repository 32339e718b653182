/**
 * Metrics for the gateway and the controller, one OpenTelemetry MeterProvider per service with
 * two readers: a Prometheus reader rendered on `/metrics`, and an OTLP push reader when an
 * endpoint is configured. One set of instruments feeds both (see docs/decisions/0052).
 *
 * Label values are bounded sets (route, status class, model id, rule name, outcome): never
 * tenant or person ids, never request content.
 */
import type { Attributes, Counter, Histogram } from '@opentelemetry/api';
import { metrics, resources } from '@opentelemetry/sdk-node';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import type { TelemetryConfig } from './config.js';

/** Latency buckets in seconds: sub-millisecond gateway answers up to long streams. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
/** Approval waits: seconds to a day. */
const APPROVAL_BUCKETS = [1, 5, 15, 30, 60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600];

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** What one finished request contributes (gateway model calls and controller HTTP calls alike). */
export interface RequestSample {
  route: string;
  method?: string;
  status: number;
  seconds: number;
  /** Model actually used, when a model was called. */
  model?: string;
}

/** The routing/approval API other modules (the mesh, the approvals inbox) call. */
export interface DecisionMetrics {
  /** A routing decision: which way a request or task was sent and why (bounded values). */
  recordRouting(decision: string, target: string): void;
  /** Time from an approval being requested to its decision. */
  recordApproval(seconds: number, outcome: 'approved' | 'denied' | 'expired' | string): void;
}

export class ServiceMetrics implements DecisionMetrics {
  private readonly provider: metrics.MeterProvider;
  private readonly prometheus: PrometheusExporter;
  private readonly serializer = new PrometheusSerializer(undefined, false);
  private readonly requests: Counter;
  private readonly errors: Counter;
  private readonly duration: Histogram;
  private readonly tokens: Counter;
  private readonly cost: Counter;
  private readonly cacheLookups: Counter;
  private readonly downshifts: Counter;
  private readonly routing: Counter;
  private readonly approvals: Histogram;
  private cacheHits = 0;
  private cacheTotal = 0;

  constructor(service: string, config: Pick<TelemetryConfig, 'otlpEndpoint' | 'metricsIntervalMs'>) {
    this.prometheus = new PrometheusExporter({ preventServerStart: true });
    const readers: metrics.MetricReader[] = [this.prometheus];
    if (config.otlpEndpoint) {
      readers.push(
        new metrics.PeriodicExportingMetricReader({
          exporter: new OTLPMetricExporter({ url: `${config.otlpEndpoint.replace(/\/+$/, '')}/v1/metrics` }),
          exportIntervalMillis: config.metricsIntervalMs,
        }),
      );
    }
    this.provider = new metrics.MeterProvider({
      resource: resources.resourceFromAttributes({ 'service.name': `switchboard-${service}` }),
      readers,
    });
    const meter = this.provider.getMeter('switchboard');
    this.requests = meter.createCounter('switchboard_requests', { description: 'Requests handled, by route and status class' });
    this.errors = meter.createCounter('switchboard_errors', { description: 'Requests that ended in an error (status >= 500 or a broken stream)' });
    this.duration = meter.createHistogram('switchboard_request_duration_seconds', {
      description: 'Request latency, arrival to last byte',
      unit: 's',
      advice: { explicitBucketBoundaries: LATENCY_BUCKETS },
    });
    this.tokens = meter.createCounter('switchboard_tokens', { description: 'Model tokens, by kind (prompt, completion, cached) and model' });
    this.cost = meter.createCounter('switchboard_cost_usd', { description: 'Metered model cost in US dollars, by model' });
    this.cacheLookups = meter.createCounter('switchboard_cache_lookups', { description: 'Exact-cache lookups, by result (hit, miss, bypass)' });
    meter
      .createObservableGauge('switchboard_cache_hit_ratio', { description: 'Share of cache lookups that hit, since start' })
      .addCallback((r) => r.observe(this.cacheTotal === 0 ? 0 : this.cacheHits / this.cacheTotal));
    this.downshifts = meter.createCounter('switchboard_downshifts', { description: 'Requests sent to a cheaper model, by rule and models' });
    this.routing = meter.createCounter('switchboard_routing_decisions', { description: 'Routing decisions, by decision and target' });
    this.approvals = meter.createHistogram('switchboard_approval_duration_seconds', {
      description: 'Time from approval request to decision',
      unit: 's',
      advice: { explicitBucketBoundaries: APPROVAL_BUCKETS },
    });
  }

  recordRequest(s: RequestSample, failed: boolean): void {
    const attrs: Attributes = { route: s.route, status_class: `${Math.floor(s.status / 100)}xx` };
    if (s.method) attrs.method = s.method;
    this.requests.add(1, attrs);
    this.duration.record(s.seconds, attrs);
    if (failed) this.errors.add(1, attrs);
  }

  recordUsage(model: string, usage: { promptTokens: number; completionTokens: number; cachedTokens: number }, costUsd: number | undefined): void {
    if (usage.promptTokens > 0) this.tokens.add(usage.promptTokens, { kind: 'prompt', model });
    if (usage.completionTokens > 0) this.tokens.add(usage.completionTokens, { kind: 'completion', model });
    if (usage.cachedTokens > 0) this.tokens.add(usage.cachedTokens, { kind: 'cached', model });
    if (costUsd && costUsd > 0) this.cost.add(costUsd, { model });
  }

  recordCache(result: 'hit' | 'miss' | 'bypass'): void {
    this.cacheLookups.add(1, { result });
    if (result === 'bypass') return;
    this.cacheTotal += 1;
    if (result === 'hit') this.cacheHits += 1;
  }

  recordDownshift(from: string, to: string, rule: string): void {
    this.downshifts.add(1, { from, to, rule });
  }

  recordRouting(decision: string, target: string): void {
    this.routing.add(1, { decision, target });
  }

  recordApproval(seconds: number, outcome: string): void {
    if (Number.isFinite(seconds) && seconds >= 0) this.approvals.record(seconds, { outcome });
  }

  /** The Prometheus text exposition of every instrument. */
  async prometheusText(): Promise<string> {
    const { resourceMetrics } = await this.prometheus.collect();
    return this.serializer.serialize(resourceMetrics);
  }

  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}
