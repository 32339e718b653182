/**
 * Exact-cache benchmark: `npm run bench:cache [-- --duration 3 --quick]`.
 *
 * Starts the scripted upstream and a gateway (default pipeline, temp data dir) in this process,
 * primes one Goose-shaped temperature-0 request (non-stream and stream), then measures cache
 * hits end to end over one keep-alive connection: P50/P90/P99 per request, target P50 ≤ 1 ms.
 * Also prints the parts: key computation for that body, and a lookup served from memory and
 * from SQLite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { createGatewayServer } from '../gateway/server.js';
import { defaultGatewayConfig } from '../gateway/config.js';
import { cacheKey } from '../gateway/cache/key.js';
import { ExactCache } from '../gateway/cache/exact-cache.js';
import { exactCacheOptions, resolveCacheConfig } from '../gateway/cache/config.js';
import { openGatewayDb } from '../platform/sqlite.js';
import type { JsonObject } from '../gateway/context.js';
import { startScriptedUpstream } from '../test/support/scripted-upstream.js';
import { percentile, runLoad } from './support/load.js';
import { gooseLikeBody } from './support/workload.js';

const HELP = `Usage: npm run bench:cache -- [options]

Measures exact-cache hits through the gateway (target: P50 <= 1 ms) and the parts of a lookup.

Options:
  --duration <s>  seconds per measured run (default 3; --quick: 1)
  --quick         short runs for a smoke check
  -h, --help      this text
`;

function settings(): { durationMs: number } {
  let values;
  try {
    ({ values } = parseArgs({ options: { duration: { type: 'string' }, quick: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } }));
  } catch (err) {
    process.stderr.write(`bench:cache: ${(err as Error).message}\n(run with --help for usage)\n`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const seconds = values.duration === undefined ? (values.quick ? 1 : 3) : Number(values.duration);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    process.stderr.write(`bench:cache: --duration must be a positive number (got "${values.duration}")\n`);
    process.exit(2);
  }
  return { durationMs: seconds * 1000 };
}

/** Runs fn repeatedly for ~ms and returns microseconds per call (median of 5 batches). */
function microbench(fn: () => void, ms = 300): number {
  const perBatch: number[] = [];
  for (let b = 0; b < 5; b++) {
    let n = 0;
    const start = performance.now();
    while (performance.now() - start < ms / 5) {
      fn();
      n++;
    }
    perBatch.push(((performance.now() - start) * 1000) / n);
  }
  return perBatch.sort((a, b) => a - b)[2]!;
}

const fmt = (ms: number) => ms.toFixed(3).padStart(8);

async function main(): Promise<void> {
  const { durationMs } = settings();
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-bench-cache-'));
  const upstream = await startScriptedUpstream();
  const server = await createGatewayServer({
    config: { ...defaultGatewayConfig(), port: 0, logLevel: 'silent', upstreams: [{ name: 'bench', kind: 'openrouter', baseUrl: upstream.baseUrl, apiKeyEnv: 'BENCH_KEY' }] },
    dataDir,
    logger: pino({ level: 'silent' }),
    env: { BENCH_KEY: 'sk-bench' },
  });
  const origin = await server.listen();
  const headers = { authorization: `Bearer ${server.services.localToken}`, 'content-type': 'application/json' };
  const deterministic = (stream: boolean) => JSON.stringify({ ...(JSON.parse(gooseLikeBody(stream)) as JsonObject), temperature: 0 });

  try {
    const rows: string[] = [];
    for (const stream of [false, true]) {
      const body = deterministic(stream);
      const prime = await fetch(`${origin}/v1/chat/completions`, { method: 'POST', headers, body });
      await prime.text();
      const check = await fetch(`${origin}/v1/chat/completions`, { method: 'POST', headers, body });
      await check.text();
      if (check.headers.get('x-switchboard-cache') !== 'hit') throw new Error(`expected a cache hit, got ${check.headers.get('x-switchboard-cache')}`);
      const upstreamCalls = upstream.received.length;
      await runLoad({ origin, path: '/v1/chat/completions', headers, body, stream }, { connections: 1, durationMs: Math.min(500, durationMs) });
      const cpu0 = process.cpuUsage();
      const r = await runLoad({ origin, path: '/v1/chat/completions', headers, body, stream }, { connections: 1, durationMs });
      const cpu = process.cpuUsage(cpu0);
      // CPU time per request of this process (client + gateway): a load-independent floor for latency.
      const cpuMs = (cpu.user + cpu.system) / 1000 / Math.max(1, r.requests);
      if (upstream.received.length !== upstreamCalls) throw new Error('a measured request reached the upstream: not all were hits');
      const p50 = percentile(r.totalMs, 50);
      rows.push(
        `${(stream ? 'hit, stream' : 'hit, non-stream').padEnd(16)} ${String(r.requests).padStart(7)} ${String(r.errors).padStart(6)} ${fmt(p50)} ${fmt(percentile(r.totalMs, 90))} ${fmt(percentile(r.totalMs, 99))} ${fmt(cpuMs)}   ${p50 <= 1 ? 'OK (P50 <= 1 ms)' : 'ABOVE TARGET (P50 > 1 ms)'}`,
      );
    }

    const goose = JSON.parse(deterministic(true)) as JsonObject;
    const keyUs = microbench(() => cacheKey({ tenantId: 'local', route: 'chat', stream: true, body: goose }));
    const db = openGatewayDb(join(dataDir, 'gateway.db'));
    const options = exactCacheOptions(resolveCacheConfig(undefined));
    const key = cacheKey({ tenantId: 'local', route: 'chat', stream: true, body: goose });
    const warm = new ExactCache(db, options);
    const memoryUs = microbench(() => warm.get(key));
    const sqliteUs = microbench(() => new ExactCache(db, { ...options, memoryMaxBytes: 1 }).get(key));
    db.close();

    process.stdout.write(
      [
        `bench:cache — node ${process.version}, load average ${loadavg()[0]!.toFixed(1)}, body ${Buffer.byteLength(deterministic(true))} bytes, one connection, ${durationMs / 1000}s per run`,
        '',
        `${'through gateway'.padEnd(16)} ${'requests'.padStart(7)} ${'errors'.padStart(6)} ${'P50 ms'.padStart(8)} ${'P90 ms'.padStart(8)} ${'P99 ms'.padStart(8)} ${'CPU ms'.padStart(8)}`,
        ...rows,
        'CPU ms = CPU time of this process (load generator + gateway) per request; on a busy machine it shows the work',
        'per hit when wall-clock percentiles are inflated by waiting for a core.',
        '',
        `key (canonical JSON + SHA-256) of that body: ${keyUs.toFixed(1)} µs`,
        `lookup served from memory:                  ${memoryUs.toFixed(2)} µs`,
        `lookup served from SQLite (cold memory):    ${sqliteUs.toFixed(1)} µs (includes preparing statements)`,
        '',
      ].join('\n'),
    );
  } finally {
    await server.close();
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
