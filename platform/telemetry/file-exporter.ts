/**
 * The default span exporter: JSON lines in <data-dir>/traces/<service>.jsonl (mode 0600), one
 * span a line, rotated to `.1` past a size cap. Lets a single machine keep traces with no
 * collector; `switchboard` users read them with jq or ship them later.
 */
import { appendFile, mkdir, rename, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { tracing } from '@opentelemetry/sdk-node';

type ReadableSpan = tracing.ReadableSpan;
type ExportResult = { code: number; error?: Error };

/** One exported span as written to the file. */
export interface SpanRecord {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  service: string;
  /** Epoch milliseconds. */
  start: number;
  durationMs: number;
  status: 'ok' | 'error' | 'unset';
  attributes: Record<string, unknown>;
}

const hrToMs = (t: [number, number]) => t[0] * 1000 + t[1] / 1e6;

export function toSpanRecord(span: ReadableSpan): SpanRecord {
  const ctx = span.spanContext();
  const parent = span.parentSpanContext?.spanId;
  const code = span.status.code;
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    ...(parent ? { parentSpanId: parent } : {}),
    name: span.name,
    service: String(span.resource.attributes['service.name'] ?? ''),
    start: Math.round(hrToMs(span.startTime)),
    durationMs: Math.round(hrToMs(span.duration) * 1000) / 1000,
    status: code === 2 ? 'error' : code === 1 ? 'ok' : 'unset',
    attributes: { ...span.attributes },
  };
}

export class FileSpanExporter implements tracing.SpanExporter {
  private writing: Promise<void> = Promise.resolve();
  private dirReady = false;

  constructor(
    private readonly path: string,
    private readonly maxBytes: number,
  ) {}

  export(spans: ReadableSpan[], done: (result: ExportResult) => void): void {
    let text = '';
    for (const span of spans) text += `${JSON.stringify(toSpanRecord(span))}\n`;
    this.writing = this.writing
      .then(() => this.append(text))
      .then(
        () => done({ code: 0 }),
        (err: unknown) => done({ code: 1, error: err as Error }),
      );
  }

  private async append(text: string): Promise<void> {
    if (!this.dirReady) {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      this.dirReady = true;
    }
    const size = await stat(this.path).then((s) => s.size, () => 0);
    if (size > 0 && size + text.length > this.maxBytes) await rename(this.path, `${this.path}.1`);
    await appendFile(this.path, text, { mode: 0o600 });
  }

  async forceFlush(): Promise<void> {
    await this.writing;
  }

  async shutdown(): Promise<void> {
    await this.writing;
  }
}
