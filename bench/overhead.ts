/**
 * Gateway overhead benchmark: `npm run bench:overhead [-- --duration 5 --connections 32 --quick]`.
 *
 * In one process tree and one run it measures the scripted upstream hit directly, through a raw
 * undici passthrough (the physical floor) and through the gateway with its default pipeline,
 * non-stream and stream, then reports the gateway's overhead over the passthrough and a phase
 * with 300 concurrent streams. Servers run in child processes; the load generator is this process.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { percentile, runLoad, type LoadResult, type LoadTarget } from './support/load.js';
import { DRIP_HEADER, STREAM_PIECES } from './support/protocol.js';
import { stageNames } from './support/pipeline-stages.js';
import { startServer, type ServerProcess } from './support/spawn-server.js';
import { gooseLikeBody } from './support/workload.js';

const HELP = `Usage: npm run bench:overhead -- [options]

Measures the gateway's added latency and throughput against a raw undici passthrough.

Options:
  --duration <s>      seconds per measured run (default 5; --quick: 1.5)
  --connections <n>   connections in the throughput runs (default 32)
  --streams <n>       concurrent streams in the stream-capacity phase (default 300)
  --drip <ms>         delay between stream events in that phase (default 10)
  --quick             short runs for a smoke check
  --profile <dir>     write a V8 CPU profile of the gateway process into <dir> (node --cpu-prof)
  --without <stages>  run the \`gateway\` target without these stages (comma-separated names,
                      e.g. audit,privacyGuard) to see what they cost
  --no-audit-cost     skip the audit-durability phase (gateway with no audit / completion-only
                      audit as before the forwarded event / full audit, 1 connection)
  -h, --help          this text
`;

interface Settings {
  durationMs: number;
  warmupMs: number;
  connections: number;
  streams: number;
  dripMs: number;
  profileDir?: string;
  without: string[];
  auditCost: boolean;
}

function fail(message: string): never {
  process.stderr.write(`bench:overhead: ${message}\n(run with --help for usage)\n`);
  process.exit(2);
}

function positiveNumber(flag: string, value: string | undefined, fallback: number, integer: boolean): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) fail(`${flag} must be a positive ${integer ? 'integer' : 'number'} (got "${value}")`);
  return n;
}

function readSettings(argv: string[]): Settings {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        duration: { type: 'string' },
        connections: { type: 'string' },
        streams: { type: 'string' },
        drip: { type: 'string' },
        quick: { type: 'boolean', default: false },
        profile: { type: 'string' },
        without: { type: 'string' },
        'no-audit-cost': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
  } catch (err) {
    fail((err as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const quick = v.quick === true;
  return {
    durationMs: positiveNumber('--duration', v.duration, quick ? 1.5 : 5, false) * 1000,
    warmupMs: quick ? 500 : 1500,
    connections: positiveNumber('--connections', v.connections, 32, true),
    streams: positiveNumber('--streams', v.streams, 300, true),
    dripMs: positiveNumber('--drip', v.drip, 10, false),
    ...(v.profile ? { profileDir: resolve(v.profile) } : {}),
    without: stageNames(v.without),
    auditCost: v['no-audit-cost'] !== true && !(v.without ?? '').includes('audit'),
  };
}

// ---- server processes ------------------------------------------------------------------------

// ---- workload ----------------------------------------------------------------------------------

type TargetName = 'direct' | 'passthrough' | 'gateway-spine' | 'gateway';
type Mode = 'non-stream' | 'stream';
const TARGETS: TargetName[] = ['direct', 'passthrough', 'gateway-spine', 'gateway'];
const MODES: Mode[] = ['non-stream', 'stream'];

interface Measured {
  target: TargetName;
  mode: Mode;
  connections: number;
  result: LoadResult;
  /** CPU time of the server process in front (the upstream's for `direct`), per request. */
  serverCpuMicrosPerRequest: number;
}

// ---- report ------------------------------------------------------------------------------------

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '–');
const rps = (r: LoadResult) => Math.round((r.requests / r.elapsedMs) * 1000);

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function runRow(m: Measured): string[] {
  const r = m.result;
  const stream = m.mode === 'stream';
  return [
    m.target,
    m.mode,
    String(m.connections),
    String(rps(r)),
    ms(percentile(r.totalMs, 50)),
    ms(percentile(r.totalMs, 99)),
    stream ? ms(percentile(r.ttfbMs, 50)) : '',
    stream ? ms(percentile(r.ttfbMs, 99)) : '',
    String(Math.round(m.serverCpuMicrosPerRequest)),
    String(r.errors),
  ];
}

const RUN_HEADER = ['target', 'mode', 'conns', 'req/s', 'P50 ms', 'P99 ms', 'TTFB P50', 'TTFB P99', 'server CPU µs/req', 'errors'];

interface Overhead {
  label: string;
  p50: number;
  p99: number;
  floorP50: number;
  floorP99: number;
}

function overheadRows(runs: Measured[], gateway: 'gateway' | 'gateway-spine', connections: number): Overhead[] {
  const find = (target: TargetName, mode: Mode) => runs.find((m) => m.target === target && m.mode === mode && m.connections === connections)!.result;
  const rows: Overhead[] = [];
  for (const mode of MODES) {
    const gw = find(gateway, mode);
    const floor = find('passthrough', mode);
    const pick = (r: LoadResult, p: number, ttfb: boolean) => percentile(ttfb ? r.ttfbMs : r.totalMs, p);
    const add = (label: string, ttfb: boolean) =>
      rows.push({ label, p50: pick(gw, 50, ttfb), p99: pick(gw, 99, ttfb), floorP50: pick(floor, 50, ttfb), floorP99: pick(floor, 99, ttfb) });
    if (mode === 'stream') add(`${gateway}: stream TTFB, ${connections} conn`, true);
    add(`${gateway}: ${mode} total, ${connections} conn`, false);
  }
  return rows;
}

function overheadTable(rows: Overhead[]): string {
  return table(
    ['measure', 'P50 Δ ms', 'P99 Δ ms', 'P50 ratio', 'P99 ratio'],
    rows.map((o) => [o.label, ms(o.p50 - o.floorP50), ms(o.p99 - o.floorP99), `${(o.p50 / o.floorP50).toFixed(2)}×`, `${(o.p99 / o.floorP99).toFixed(2)}×`]),
  );
}

// ---- main --------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const settings = readSettings(process.argv.slice(2));
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const servers: ServerProcess[] = [];
  const stopAll = () => Promise.all(servers.map((s) => s.stop()));
  process.once('SIGINT', () => void stopAll().finally(() => process.exit(130)));

  try {
    const upstream = await startServer('upstream');
    servers.push(upstream);
    const started = await Promise.allSettled([
      startServer('passthrough', upstream.url),
      startServer('gateway-spine', upstream.url),
      startServer('gateway', upstream.url, settings.profileDir, settings.without),
    ]);
    for (const s of started) if (s.status === 'fulfilled') servers.push(s.value);
    const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    const [passthrough, spine, gateway] = servers.slice(1) as [ServerProcess, ServerProcess, ServerProcess];

    // Every target gets the same headers; only the gateways check the token (each has its own data dir).
    const headers = (server: ServerProcess, stream: boolean): Record<string, string> => ({
      'content-type': 'application/json',
      authorization: `Bearer ${server.token ?? gateway.token ?? ''}`,
      ...(stream ? { accept: 'text/event-stream' } : {}),
    });
    const bodies = { 'non-stream': gooseLikeBody(false), stream: gooseLikeBody(true) };
    const serverOf = (name: TargetName): ServerProcess => ({ direct: upstream, passthrough, 'gateway-spine': spine, gateway })[name];
    const targetFor = (name: TargetName, mode: Mode): LoadTarget => {
      const server = serverOf(name);
      return { origin: new URL(server.url).origin, path: '/v1/chat/completions', headers: headers(server, mode === 'stream'), body: bodies[mode], stream: mode === 'stream' };
    };

    const measure = async (target: TargetName, mode: Mode, connections: number, durationMs: number): Promise<Measured> => {
      const server = serverOf(target);
      const cpuBefore = await server.cpuMicros();
      const result = await runLoad(targetFor(target, mode), { connections, durationMs });
      const cpuAfter = await server.cpuMicros();
      const m: Measured = { target, mode, connections, result, serverCpuMicrosPerRequest: result.requests ? (cpuAfter - cpuBefore) / result.requests : 0 };
      log(`  ${runRow(m).join('  ')}`);
      return m;
    };

    const cpuModel = cpus()[0]?.model ?? 'unknown CPU';
    // Other work on the machine skews latency; the load average says how much there was.
    const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');
    log(`load average at start: ${load()}`);
    log(`machine: ${availableParallelism()} CPUs (${cpuModel}), node ${process.version}, ${process.platform}/${process.arch}`);
    log(`gateway stages: ${gateway.stages?.join(' → ') ?? '?'}`);
    log(`gateway-spine stages: ${spine.stages?.join(' → ') ?? '?'}`);
    log(`request body: ${bodies['non-stream'].length} bytes (Goose-shaped turn with 3 tools); stream answer: ${STREAM_PIECES.length + 4} SSE events`);
    log(`\nwarm-up (${settings.warmupMs} ms per target and mode)`);
    for (const target of TARGETS) for (const mode of MODES) await runLoad(targetFor(target, mode), { connections: settings.connections, durationMs: settings.warmupMs });

    const runs: Measured[] = [];
    log(`\nlatency: 1 connection, ${settings.durationMs / 1000} s per run`);
    log(`  ${RUN_HEADER.join('  ')}`);
    for (const mode of MODES) for (const target of TARGETS) runs.push(await measure(target, mode, 1, settings.durationMs));
    log(`\nthroughput: ${settings.connections} connections, ${settings.durationMs / 1000} s per run`);
    for (const mode of MODES) for (const target of TARGETS) runs.push(await measure(target, mode, settings.connections, settings.durationMs));

    log(`\nstream capacity: ${settings.streams} concurrent streams through the gateway, ${settings.dripMs} ms between events`);
    const streamTarget = targetFor('gateway', 'stream');
    const capacity = await runLoad(
      { ...streamTarget, headers: { ...streamTarget.headers, [DRIP_HEADER]: String(settings.dripMs) } },
      { connections: settings.streams, durationMs: settings.durationMs },
    );
    log(`  streams completed ${capacity.requests}, peak in flight ${capacity.peakInFlight}, errors ${capacity.errors}`);

    // Audit durability: the same gateway with no audit, with the completion event only (the
    // audit before forwarded events existed) and with the full audit (forwarded event committed
    // before the upstream request, completion after, WAL fsync off the event loop). Runs are
    // interleaved so drift in machine load hits all three alike.
    const auditVariants = [
      { label: 'no audit', without: ['audit', 'auditForwarded'] },
      { label: 'before: completion event only', without: ['auditForwarded'] },
      { label: 'after: forwarded + completion', without: [] as string[] },
    ];
    const auditRows: Array<{ label: string; nonStream: number[]; ttfb: number[]; stream: number[] }> = [];
    /** Percentile over samples pooled from several runs. */
    const pooled = (xs: number[], p: number) => percentile(Float64Array.from(xs).sort(), p);
    if (settings.auditCost) {
      log(`\naudit durability cost: 1 connection, ${settings.durationMs / 1000} s per run, 2 interleaved rounds`);
      const variantServers: ServerProcess[] = [];
      for (const v of auditVariants) {
        const server = await startServer('gateway', upstream.url, undefined, v.without);
        servers.push(server);
        variantServers.push(server);
        auditRows.push({ label: v.label, nonStream: [], ttfb: [], stream: [] });
      }
      const variantTarget = (server: ServerProcess, mode: Mode): LoadTarget => ({
        origin: new URL(server.url).origin, path: '/v1/chat/completions', headers: headers(server, mode === 'stream'), body: bodies[mode], stream: mode === 'stream',
      });
      for (const server of variantServers) for (const mode of MODES) await runLoad(variantTarget(server, mode), { connections: 1, durationMs: settings.warmupMs });
      for (let round = 0; round < 2; round++) {
        for (const [i, server] of variantServers.entries()) {
          const row = auditRows[i]!;
          const nonStream = await runLoad(variantTarget(server, 'non-stream'), { connections: 1, durationMs: settings.durationMs / 2 });
          const stream = await runLoad(variantTarget(server, 'stream'), { connections: 1, durationMs: settings.durationMs / 2 });
          row.nonStream.push(...nonStream.totalMs);
          row.ttfb.push(...stream.ttfbMs);
          row.stream.push(...stream.totalMs);
          log(`  ${row.label}: non-stream P50 ${ms(percentile(nonStream.totalMs, 50))}, TTFB P50 ${ms(percentile(stream.ttfbMs, 50))}, stream P50 ${ms(percentile(stream.totalMs, 50))}`);
        }
      }
    }

    // ---- final report (stdout, markdown) ----
    const out: string[] = [];
    out.push(`Machine: ${availableParallelism()} CPUs (${cpuModel}), Node ${process.version}, ${process.platform}/${process.arch}`);
    out.push(`Load average (1/5/15 min) at the end: ${load()}`);
    const pipelineLabel = settings.without.length > 0 ? `default config without ${settings.without.join(', ')}` : 'default config';
    out.push(`Gateway pipeline (${pipelineLabel}): ${gateway.stages?.join(' → ') ?? '?'}`);
    out.push(`gateway-spine (same server, only ${spine.stages?.join(' → ') ?? '?'})`);
    out.push(`Settings: ${settings.durationMs / 1000} s per run, throughput runs with ${settings.connections} connections, request body ${bodies['non-stream'].length} bytes`);
    out.push('', '### Runs', '', table(RUN_HEADER, runs.map(runRow)));
    const overheads = [
      ...overheadRows(runs, 'gateway-spine', 1),
      ...overheadRows(runs, 'gateway', 1),
      ...overheadRows(runs, 'gateway-spine', settings.connections),
      ...overheadRows(runs, 'gateway', settings.connections),
    ];
    out.push('', '### Gateway overhead over the raw passthrough', '', overheadTable(overheads));
    const gwRps = rps(runs.find((m) => m.target === 'gateway' && m.mode === 'non-stream' && m.connections === settings.connections)!.result);
    const ptRps = rps(runs.find((m) => m.target === 'passthrough' && m.mode === 'non-stream' && m.connections === settings.connections)!.result);
    out.push('', `Throughput ratio gateway/passthrough (non-stream, ${settings.connections} conn): ${(gwRps / ptRps).toFixed(2)}`);
    out.push(
      '',
      '### Stream capacity',
      '',
      table(
        ['concurrent streams', 'completed', 'peak in flight', 'P50 ms', 'P99 ms', 'errors'],
        [[String(settings.streams), String(capacity.requests), String(capacity.peakInFlight), ms(percentile(capacity.totalMs, 50)), ms(percentile(capacity.totalMs, 99)), String(capacity.errors)]],
      ),
    );
    if (auditRows.length === 3) {
      const p50 = (xs: number[]) => pooled(xs, 50);
      const [none, before, after] = auditRows as [typeof auditRows[0], typeof auditRows[0], typeof auditRows[0]];
      out.push(
        '',
        '### Audit durability cost (P50, 1 connection)',
        '',
        table(
          ['gateway audit', 'non-stream P50 ms', 'stream TTFB P50 ms', 'stream P50 ms'],
          auditRows.map((r) => [r.label, ms(p50(r.nonStream)), ms(p50(r.ttfb)), ms(p50(r.stream))]),
        ),
        '',
        table(
          ['added', 'non-stream P50 Δ ms', 'TTFB P50 Δ ms', 'stream P50 Δ ms'],
          [
            ['after − before (the durability work)', ms(p50(after.nonStream) - p50(before.nonStream)), ms(p50(after.ttfb) - p50(before.ttfb)), ms(p50(after.stream) - p50(before.stream))],
            ['after − no audit (all of audit)', ms(p50(after.nonStream) - p50(none.nonStream)), ms(p50(after.ttfb) - p50(none.ttfb)), ms(p50(after.stream) - p50(none.stream))],
          ],
        ),
      );
    }
    const allErrors = [...runs.map((m) => m.result), capacity].flatMap((r) => Object.entries(r.errorKinds));
    if (allErrors.length > 0) out.push('', 'Errors:', ...allErrors.map(([kind, n]) => `- ${n} × ${kind}`));

    const worst = (rows: Overhead[], key: 'p50' | 'p99') =>
      Math.max(...rows.map((o) => o[key] - (key === 'p50' ? o.floorP50 : o.floorP99)));
    const goals: Array<[string, boolean, string]> = [];
    for (const name of ['gateway-spine', 'gateway'] as const) {
      const latency = overheadRows(runs, name, 1);
      const nonStreamRps = rps(runs.find((m) => m.target === name && m.mode === 'non-stream' && m.connections === settings.connections)!.result);
      goals.push(
        [`${name}: overhead P50 ≤ 1 ms (1 conn, worst of non-stream/TTFB/stream)`, worst(latency, 'p50') <= 1, `${ms(worst(latency, 'p50'))} ms`],
        [`${name}: overhead P99 ≤ 5 ms (1 conn)`, worst(latency, 'p99') <= 5, `${ms(worst(latency, 'p99'))} ms`],
        [`${name}: ≥ 2,000 req/s (non-stream, ${settings.connections} conn)`, nonStreamRps >= 2000, `${nonStreamRps} req/s`],
      );
    }
    goals.push([
      `gateway: ${settings.streams} concurrent streams without an error`,
      capacity.errors === 0 && capacity.peakInFlight >= settings.streams,
      `${capacity.errors} errors, peak ${capacity.peakInFlight} in flight`,
    ]);
    if (auditRows.length === 3) {
      const [, before, after] = auditRows as [typeof auditRows[0], typeof auditRows[0], typeof auditRows[0]];
      const added = Math.max(
        pooled(after.nonStream, 50) - pooled(before.nonStream, 50),
        pooled(after.ttfb, 50) - pooled(before.ttfb, 50),
      );
      goals.push(['gateway: audit durability adds ≤ 0.2 ms P50 (after − before, worst of non-stream/TTFB)', added <= 0.2, `${ms(added)} ms`]);
    }
    out.push('', '### Goals', '', table(['goal', 'met', 'measured'], goals.map(([g, ok, v]) => [g, ok ? 'yes' : 'NO', v])));
    process.stdout.write(`${out.join('\n')}\n`);
    if (settings.profileDir) log(`gateway CPU profile written to ${settings.profileDir}`);
  } finally {
    await stopAll();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:overhead failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
