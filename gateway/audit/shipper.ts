/**
 * Ships spooled audit events to the controller in batches (POST /api/v1/audit/ingest).
 * An event is marked shipped only after the controller acknowledged its batch; ingest is
 * idempotent by event id, so a batch re-sent after a lost reply is harmless. Failures back
 * off exponentially (with jitter) up to maxBackoffMs and retry forever: the spool is durable.
 * Events the controller refuses (named one by one in its reply) are quarantined in the spool
 * with an alert (log line, alert record, `switchboard audit status`); the rest ship on.
 *
 * The same batches carry the gateway's usage records to the org ledger (`usage`, see
 * docs/budgets.md): one request reports both, the controller stores records idempotently by id,
 * and they leave the local outbox only once acknowledged — so spend is reported exactly like audit
 * events, through outages and restarts.
 */
import type { Logger } from 'pino';
import type { AuditSpool } from './spool.js';
import { controllerFetch } from '../controller-tls.js';
import type { UsageOutboxBatch } from '../../models/usage-store.js';

/** Where unreported usage records come from (models/usage-store.ts UsageStore). */
export interface UsageOutbox {
  unreported(limit: number): UsageOutboxBatch;
  markReported(upTo: number): void;
}

export interface AuditShipperOptions {
  spool: AuditSpool;
  /** Controller base URL, e.g. http://127.0.0.1:8788 */
  controllerUrl: string;
  /** Bearer token for the controller (a configured token or one from enrolment). */
  token: () => string | Promise<string>;
  log: Logger;
  batchSize?: number;
  /** How often to look for unshipped events when idle. */
  intervalMs?: number;
  baseBackoffMs?: number;
  maxBackoffMs?: number;
  requestTimeoutMs?: number;
  /** Each shipment is a trace whose `traceparent` the controller continues. */
  tracing?: import('../../platform/telemetry/tracing.js').Tracing;
}

export interface IngestReply {
  accepted: number;
  duplicates: number;
  alerts: number;
  /** Events the controller refused, by position in the batch (older controllers omit it). */
  refused?: Array<{ index: number; id: string | null; seq: number | null; reason: string }>;
  /** Present when the batch carried usage records. */
  usage?: { accepted: number; duplicates: number; refused: Array<{ index: number; reason: string }> };
}

export class AuditShipper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private failures = 0;
  private everShipped = false;
  private readonly batchSize: number;
  private readonly intervalMs: number;
  private readonly baseBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly requestTimeoutMs: number;
  private readonly url: string;
  private usage: UsageOutbox | undefined;

  constructor(private readonly opts: AuditShipperOptions) {
    this.batchSize = opts.batchSize ?? 500;
    this.intervalMs = opts.intervalMs ?? 2000;
    this.baseBackoffMs = opts.baseBackoffMs ?? 500;
    this.maxBackoffMs = opts.maxBackoffMs ?? 60_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 10_000;
    this.url = `${opts.controllerUrl.replace(/\/+$/, '')}/api/v1/audit/ingest`;
  }

  /** Ships the usage records of `outbox` with the audit events (set once the usage store exists). */
  attachUsage(outbox: UsageOutbox): void {
    this.usage = outbox;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  /** A new event was spooled: ship soon unless already backing off. */
  notify(): void {
    if (this.stopped || this.failures > 0 || this.running) return;
    this.schedule(0);
  }

  /** Ships everything pending now; resolves when the spool is empty or a send failed. */
  async flush(): Promise<boolean> {
    while (this.running) await this.running;
    const run = this.shipAll();
    this.running = run.then(() => undefined);
    try {
      return await run;
    } finally {
      this.running = undefined;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.running) await this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick();
    }, delayMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    const ok = await this.flush();
    if (ok) {
      this.schedule(this.intervalMs);
    } else {
      const exp = Math.min(this.maxBackoffMs, this.baseBackoffMs * 2 ** Math.min(this.failures - 1, 20));
      this.schedule(exp / 2 + Math.random() * (exp / 2));
    }
  }

  /** True when the spool was drained. */
  private async shipAll(): Promise<boolean> {
    for (;;) {
      const batch = this.opts.spool.pending(this.batchSize);
      const usage = this.usage?.unreported(this.batchSize);
      const usageCount = usage?.records.length ?? 0;
      if (batch.length === 0 && usageCount === 0) return true;
      let reply: IngestReply;
      try {
        reply = await this.send(batch, usageCount > 0 ? usage!.records : undefined);
      } catch (err) {
        this.failures++;
        const level = this.failures === 1 ? 'warn' : 'debug';
        this.opts.log[level]({ err: (err as Error).message, pending: this.opts.spool.pendingCount(), failures: this.failures }, 'audit: controller unreachable, events stay spooled and will be retried');
        this.noteShipping({ ok: false, error: (err as Error).message, failures: this.failures });
        return false;
      }
      if (this.failures > 0) this.opts.log.info({ afterFailures: this.failures }, 'audit: controller reachable again, shipping spooled events');
      if (this.failures > 0 || !this.everShipped) this.noteShipping({ ok: true });
      this.failures = 0;
      this.everShipped = true;
      const refused = (reply.refused ?? []).flatMap((r) => {
        const event = batch[r.index];
        return event ? [{ seq: event.seq, id: event.id, reason: r.reason }] : [];
      });
      if (refused.length > 0) {
        this.opts.log.error({ refused }, 'audit: the controller refused events; they are quarantined in the spool (see `switchboard audit status`) and the rest of the chain ships on');
        this.opts.spool.quarantine(refused);
      }
      if (batch.length > 0) this.opts.spool.markShipped(batch[batch.length - 1]!.seq);
      if (usageCount > 0) {
        // Refused records are a gateway bug (they fail the shared schema); they are logged, not retried forever.
        if (reply.usage && reply.usage.refused.length > 0) this.opts.log.error({ refused: reply.usage.refused }, 'audit: the controller refused usage records');
        this.usage!.markReported(usage!.upTo);
      }
      if (batch.length < this.batchSize && usageCount < this.batchSize) return true;
    }
  }

  private noteShipping(outcome: Parameters<AuditSpool['noteShipping']>[0]): void {
    try {
      this.opts.spool.noteShipping(outcome);
    } catch (err) {
      this.opts.log.debug({ err }, 'audit: could not record the shipping state');
    }
  }

  private async send(batch: readonly unknown[], usage: readonly unknown[] | undefined): Promise<IngestReply> {
    const token = await this.opts.token();
    const trace = this.opts.tracing?.startInternal('controller.auditShip', { 'switchboard.events': batch.length });
    let res: Response;
    let text: string;
    try {
      res = await controllerFetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...(trace ? { traceparent: trace.traceparent() } : {}) },
        // `usage` only when there is some: controllers without an org ledger refuse the key.
        body: JSON.stringify(usage ? { events: batch, usage, gatewayId: this.opts.spool.chainId } : { events: batch }),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
      text = await res.text();
    } finally {
      trace?.end({}, false);
    }
    if (!res.ok) throw new Error(`ingest answered HTTP ${res.status}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as IngestReply;
  }
}
