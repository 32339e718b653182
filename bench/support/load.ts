/**
 * Closed-loop load generator: a fixed number of connections (undici Pool), each sending the next
 * request as soon as the previous answer has been read to the end. Records total latency and,
 * for streams, time to the first body byte; checks every answer (status 200, stream ends [DONE]).
 */
import { Pool } from 'undici';

export interface LoadTarget {
  /** Origin, e.g. http://127.0.0.1:8787 */
  origin: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  stream: boolean;
}

export interface LoadOptions {
  connections: number;
  durationMs: number;
}

export interface LoadResult {
  requests: number;
  errors: number;
  /** Error descriptions → count (first few kinds). */
  errorKinds: Record<string, number>;
  elapsedMs: number;
  /** Sorted ascending, ms. */
  totalMs: Float64Array;
  /** Sorted ascending, ms; streams only. */
  ttfbMs: Float64Array;
  /** Most requests in flight at once. */
  peakInFlight: number;
}

class Samples {
  private data = new Float64Array(4096);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.length++] = v;
  }
  sorted(): Float64Array {
    return this.data.slice(0, this.length).sort();
  }
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index]!;
}

const DONE = Buffer.from('[DONE]');

export async function runLoad(target: LoadTarget, opts: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(target.origin, { connections: opts.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const total = new Samples();
  const ttfb = new Samples();
  const errorKinds: Record<string, number> = {};
  let errors = 0;
  let inFlight = 0;
  let peakInFlight = 0;
  const fail = (kind: string) => {
    errors++;
    errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  };

  const started = performance.now();
  const deadline = started + opts.durationMs;

  async function worker(): Promise<void> {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      inFlight++;
      if (inFlight > peakInFlight) peakInFlight = inFlight;
      try {
        const res = await pool.request({ path: target.path, method: 'POST', headers: target.headers, body: target.body });
        if (res.statusCode !== 200) {
          fail(`HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 160)}`);
          continue;
        }
        if (target.stream) {
          let first = true;
          let tail: Buffer = Buffer.alloc(0);
          for await (const chunk of res.body as AsyncIterable<Buffer>) {
            if (first) {
              ttfb.push(performance.now() - t0);
              first = false;
            }
            // Keep only enough of the end to find the [DONE] marker even if it spans chunks.
            tail = tail.length === 0 ? chunk : Buffer.concat([tail.subarray(-16), chunk]);
          }
          if (!tail.includes(DONE)) {
            fail('stream ended without [DONE]');
            continue;
          }
        } else {
          const text = await res.body.text();
          if (!text.includes('"choices"')) {
            fail('answer without choices');
            continue;
          }
        }
        total.push(performance.now() - t0);
      } catch (err) {
        fail(err instanceof Error ? `${(err as { code?: string }).code ?? err.name}: ${err.message}` : String(err));
      } finally {
        inFlight--;
      }
    }
  }

  await Promise.all(Array.from({ length: opts.connections }, worker));
  const elapsedMs = performance.now() - started;
  await pool.close();
  return { requests: total.length, errors, errorKinds, elapsedMs, totalMs: total.sorted(), ttfbMs: ttfb.sorted(), peakInFlight };
}
