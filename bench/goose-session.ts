/**
 * Long-session benchmark: `npm run bench:goose-session [-- --runs 12 --turns 30 --quick]`.
 *
 * Replays a Goose-shaped session — system prompt, 30 tool schemas, each turn a user message, an
 * assistant tool call and a tool result of real source text (this repository's files) with a few
 * personal values in it — whose history grows past 250 KB, through the gateway (default
 * pipeline, Privacy Guard in mask mode) and directly to the same scripted upstream, in one run.
 * Each turn is sent both ways (order alternating) and the difference is the gateway's added
 * latency. Each turn also goes through a raw passthrough (bench/support/passthrough.ts: a bare
 * `node:http` server streaming the request to the same upstream with undici, no parsing) in the
 * same run: the floor any proxy hop costs here, so the report also gives the gateway's cost
 * above that floor. Every run of the session carries its own nonce, so a turn's new text is new to the
 * memo while the history it resends was seen on earlier turns — as in a real session.
 * Reports added P50/P99 per turn for turns of 250 KB and more, how much text the guard scanned
 * afresh per turn, and the memory of the detection memo and of the kept previous turns. A second,
 * in-process part times the Privacy Guard's masking alone on the same turns with and without the
 * memo, and parse + mask + upstream payload with and without the kept previous turns (CPU only,
 * no sockets), which is steadier on a busy machine than the end-to-end difference. The added process
 * CPU time per turn (gateway request minus direct request, all in this one process) is reported
 * too: other load on the machine barely moves it. `--stages` times each pipeline stage.
 */
import { readFileSync, readdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';
import { startScriptedUpstream } from '../test/support/scripted-upstream.js';
import { startPassthrough } from './support/passthrough.js';
import { startServer } from './support/spawn-server.js';
import { dropStages, stageNames } from './support/pipeline-stages.js';
import { loadGateway, type GatewayModules } from './support/gateway-build.js';
import { randomBytes } from 'node:crypto';
import type { JsonObject, RequestContext, Stage } from '../gateway/context.js';
import type { MaskOptions } from '../gateway/guard/mask-request.js';

const HELP = `Usage: npm run bench:goose-session -- [options]

Replays a 30-turn Goose-shaped session (history past 250 KB) through the gateway and directly
to the same scripted upstream, and reports the gateway's added latency per turn.

Options:
  --runs <n>    times the whole session is replayed (default 12; --quick: 4)
  --turns <n>   turns per session (default 30)
  --quick       fewer runs, for a smoke check
  --masking-only  only the in-process masking part (no servers)
  --stages      also time each pipeline stage and finish hook in-process (turns ≥ 250 KB)
  --dist        time the built package in dist/ (what \`switchboard\` runs; \`npm run build\` first)
                instead of the sources under tsx
  --processes   run the gateway and the passthrough each in its own process (as Goose and the
                gateway run), not in this one; "added CPU" is then the gateway process's own CPU
                per turn. Not with --stages
  --without <stages>  run the gateway without these pipeline stages (comma-separated names, e.g.
                privacyGuard,reidentify): what the rest of the gateway costs. Turns still go
                direct and through the passthrough as usual
  --gap <ms>    idle time after each request (default 25; 0 = back to back). Goose's turns are
                seconds apart (the model answers, tools run), and the gateway's after-answer work
                (audit completion, metering) runs in that gap; back to back, that work lands in
                the next measured request, on either side of the comparison
  -h, --help    this text
`;

function fail(message: string): never {
  process.stderr.write(`bench:goose-session: ${message}\n(run with --help for usage)\n`);
  process.exit(2);
}

function settings(argv: string[]): { runs: number; turns: number; maskingOnly: boolean; stages: boolean; processes: boolean; dist: boolean; gapMs: number; without: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { runs: { type: 'string' }, turns: { type: 'string' }, quick: { type: 'boolean', default: false }, 'masking-only': { type: 'boolean', default: false }, stages: { type: 'boolean', default: false }, processes: { type: 'boolean', default: false }, dist: { type: 'boolean', default: false }, gap: { type: 'string' }, without: { type: 'string' }, help: { type: 'boolean', short: 'h', default: false } }, strict: true });
  } catch (err) {
    fail((err as Error).message);
  }
  if (parsed.values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const int = (flag: string, v: string | undefined, d: number, min = 1) => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) fail(`${flag} must be an integer ≥ ${min} (got "${v}")`);
    return n;
  };
  if (parsed.values.processes && parsed.values.stages) fail('--stages times stages inside this process; it cannot be used with --processes');
  return { runs: int('--runs', parsed.values.runs, parsed.values.quick ? 4 : 12), turns: int('--turns', parsed.values.turns, 30), maskingOnly: parsed.values['masking-only'], stages: parsed.values.stages, processes: parsed.values.processes, dist: parsed.values.dist, gapMs: int('--gap', parsed.values.gap, 25, 0), without: stageNames(parsed.values.without) };
}

/** Nearest-rank percentile of unsorted samples. */
function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));

/** Real source text: this repository's TypeScript files, in a fixed order. */
function sourceFiles(): Array<{ path: string; text: string }> {
  const out: Array<{ path: string; text: string }> = [];
  for (const dir of ['gateway', 'gateway/stages', 'gateway/guard', 'gateway/cost', 'gateway/bundles', 'gateway/audit', 'controller', 'models']) {
    for (const name of readdirSync(join(root, dir)).sort()) {
      if (name.endsWith('.ts')) out.push({ path: `${dir}/${name}`, text: readFileSync(join(root, dir, name), 'utf8') });
    }
  }
  return out;
}

const PEOPLE = [
  { name: 'Delia Hartmann', email: 'delia.hartmann@northwind-mail.com', phone: '+1 415 555 0132' },
  { name: 'Tomás Okafor', email: 'tomas.okafor@contoso.io', phone: '+44 20 7946 0958' },
];

function tools(): object[] {
  const names = ['developer__shell', 'developer__text_editor', 'developer__list_windows', 'developer__screen_capture', 'developer__image_processor', 'todo__write', 'todo__read', 'memory__remember', 'memory__retrieve', 'memory__forget', 'git__status', 'git__diff', 'git__log', 'git__commit', 'github__create_issue', 'github__list_prs', 'github__review', 'browser__open', 'browser__click', 'browser__type', 'browser__screenshot', 'jira__search', 'jira__comment', 'slack__post', 'slack__search', 'db__query', 'db__schema', 'http__fetch', 'fs__search', 'fs__glob'];
  return names.map((name, i) => ({
    type: 'function',
    function: {
      name,
      description: `Tool ${i}: ${name.replace('__', ' ')}. Use it when the task needs it; it returns plain text. `.repeat(3),
      parameters: {
        type: 'object',
        properties: { command: { type: 'string', description: 'what to run or look at, verbatim' }, path: { type: 'string', description: 'an absolute path' } },
        required: ['command'],
      },
    },
  }));
}

/** The request of turn `t` (0-based) of one run: history of turns < t plus turn t's new text. */
function sessionBodies(turns: number, nonce: string, files: Array<{ path: string; text: string }>): string[] {
  const system = 'You are a general-purpose AI agent called goose, created by Block. '.repeat(4) +
    'Be concise, prefer small reversible steps, explain what you change, and never invent file contents. '.repeat(40);
  const toolList = tools();
  const messages: object[] = [{ role: 'system', content: system }];
  const bodies: string[] = [];
  let f = 0;
  for (let t = 0; t < turns; t++) {
    const person = PEOPLE[t % PEOPLE.length]!;
    const user = t % 5 === 0
      ? `(${nonce}) ${person.name} (${person.email}, ${person.phone}) asked me to look at the next files; what do they do?`
      : `(${nonce}) Continue with the next file, turn ${t}.`;
    messages.push({ role: 'user', content: user });
    const a = files[f++ % files.length]!;
    const b = files[f++ % files.length]!;
    messages.push({ role: 'assistant', content: null, tool_calls: [{ id: `call_${t}`, type: 'function', function: { name: 'developer__shell', arguments: JSON.stringify({ command: `cat ${a.path} ${b.path}` }) } }] });
    const contact = t % 3 === 0 ? `\n// maintainer: ${person.name} <${person.email}>\n` : '\n';
    messages.push({ role: 'tool', tool_call_id: `call_${t}`, content: `// ${nonce}\n${a.text}${contact}${b.text}` });
    bodies.push(JSON.stringify({ model: 'anthropic/claude-sonnet-4', messages, tools: toolList, stream: true, stream_options: { include_usage: true } }));
    messages.push({ role: 'assistant', content: `Turn ${t}: ${a.path} and ${b.path} read; summarising for ${person.name}.` });
  }
  return bodies;
}

/** The gap between requests (see --gap); 0 sends the next one at once. */
async function idle(ms: number): Promise<void> {
  if (ms > 0) await delay(ms);
}

/** Process CPU time in ms (user + system): unlike wall time, barely moved by other load on the machine. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Wall and process-CPU milliseconds of one request (client, gateway and upstream share this process). */
async function send(dispatcher: Agent, url: string, body: string, token: string | undefined): Promise<{ ms: number; cpu: number }> {
  const cpuStarted = cpuMs();
  const started = performance.now();
  const res = await request(url, {
    method: 'POST',
    dispatcher,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
  const text = await res.body.text();
  const ms = performance.now() - started;
  const cpu = cpuMs() - cpuStarted;
  if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode} from ${url}: ${text.slice(0, 300)}`);
  return { ms, cpu };
}

/**
 * The guard's own work on each turn's body in-process, memoised (memo carried across the session)
 * and not: masking alone, and the whole of it — parse, mask, upstream payload — with and without
 * the kept previous turns (wire/previous-turns.ts). CPU only, no sockets.
 */
function maskingOnly(gw: GatewayModules, turns: number, runs: number, files: Array<{ path: string; text: string }>): void {
  const { TenantKeys } = gw.pseudonym;
  const { PreviousTurns } = gw.previousTurns;
  const { DetectionMemo } = gw.detectionMemo;
  const { DEFAULT_MEMO_BYTES_PER_TENANT } = gw.privacyGuard;
  const { detect } = gw.detect;
  const { maskRequestBody } = gw.maskRequest;
  const { parseRequestBody, rememberTurn, requestPayload } = gw.rawRequest;
  const pseudonymizer = new TenantKeys(randomBytes(32)).pseudonymizer('bench');
  const withMemo: number[] = [];
  const without: number[] = [];
  const whole: number[] = [];
  const wholeKept: number[] = [];
  let sizes: number[] = [];
  const kept = new PreviousTurns(64 * 1024 * 1024);
  for (let run = 0; run < runs; run++) {
    const bodies = sessionBodies(turns, `mask-${run}-${Date.now().toString(36)}`, files);
    sizes = bodies.map((b) => Buffer.byteLength(b));
    const memo = new DetectionMemo(DEFAULT_MEMO_BYTES_PER_TENANT);
    const memoKept = new DetectionMemo(DEFAULT_MEMO_BYTES_PER_TENANT);
    const base: MaskOptions = { detect, pseudonymizer, modeFor: () => 'mask' };
    bodies.forEach((text, t) => {
      const bytes = Buffer.from(text);
      const big = sizes[t]! >= 250 * 1024;
      // As the server does: parsed from the client's bytes, which are kept beside the body (they name resent texts).
      let started = performance.now();
      const a = parseRequestBody(bytes) as JsonObject;
      const maskStarted = performance.now();
      maskRequestBody(a, 'openai-chat', { ...base, memo });
      const masked = performance.now();
      requestPayload(a);
      if (big) {
        withMemo.push(masked - maskStarted);
        whole.push(performance.now() - started);
      }
      started = performance.now();
      const k = parseRequestBody(bytes, { store: kept, partition: `run-${run}` }) as JsonObject;
      maskRequestBody(k, 'openai-chat', { ...base, memo: memoKept });
      rememberTurn(k);
      requestPayload(k);
      if (big) wholeKept.push(performance.now() - started);
      if (big && run < 2) {
        const b = JSON.parse(text) as JsonObject;
        started = performance.now();
        maskRequestBody(b, 'openai-chat', base);
        without.push(performance.now() - started);
      }
    });
  }
  if (withMemo.length === 0) return;
  const noMemo = without.length > 0 ? `, without memo P50 ${percentile(without, 50).toFixed(2)} ms` : '';
  process.stdout.write(`Masking alone on turns ≥ 250 KB (in-process): with memo P50 ${percentile(withMemo, 50).toFixed(2)} ms, P99 ${percentile(withMemo, 99).toFixed(2)} ms${noMemo}\n`);
  process.stdout.write(`Parse + mask + payload on turns ≥ 250 KB (in-process, memo): P50 ${percentile(whole, 50).toFixed(2)} ms, P99 ${percentile(whole, 99).toFixed(2)} ms; with kept previous turns P50 ${percentile(wholeKept, 50).toFixed(2)} ms, P99 ${percentile(wholeKept, 99).toFixed(2)} ms (${(kept.bytes / 1048576).toFixed(1)} MB accounted)\n`);
}

/**
 * Wraps every pipeline stage (and the finish hooks each registers) with a timer, so a run can
 * say where the gateway's time goes. Times are per request; `record` decides which count.
 */
function timeStages(stages: Stage[], record: () => boolean): Map<string, number[]> {
  const times = new Map<string, number[]>();
  const add = (name: string, ms: number) => {
    if (!record()) return;
    let list = times.get(name);
    if (!list) times.set(name, (list = []));
    list.push(ms);
  };
  for (let i = 0; i < stages.length; i++) {
    const stage = stages[i]!;
    stages[i] = {
      name: stage.name,
      phase: stage.phase,
      async run(ctx: RequestContext) {
        const onFinish = ctx.onFinish;
        ctx.onFinish = (hook) => onFinish(async (outcome) => {
          const started = performance.now();
          try {
            await hook(outcome);
          } finally {
            add(`${stage.name} (finish hook)`, performance.now() - started);
          }
        });
        const started = performance.now();
        try {
          await stage.run(ctx);
        } finally {
          add(stage.name, performance.now() - started);
          ctx.onFinish = onFinish;
        }
      },
    };
  }
  return times;
}

async function main(): Promise<void> {
  const { runs, turns, maskingOnly: onlyMasking, stages: timeEachStage, processes: inProcesses, dist, gapMs, without } = settings(process.argv.slice(2));
  let gw: GatewayModules;
  try {
    gw = await loadGateway(dist ? 'dist' : 'sources');
  } catch (err) {
    fail((err as Error).message);
  }
  const { DEFAULT_PREVIOUS_TURNS_MEGABYTES, defaultGatewayConfig } = gw.config;
  const { DEFAULT_MEMO_BYTES_PER_TENANT } = gw.privacyGuard;
  const files = sourceFiles();
  if (onlyMasking) {
    maskingOnly(gw, turns, runs, files);
    return;
  }
  const upstream = await startScriptedUpstream();
  const direct = `${upstream.baseUrl}/chat/completions`;
  const directUrl = new URL(direct);
  const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-bench-goose-'));
  let bigTurn = false;
  // In-process (default): the gateway and the passthrough share this process with the client and
  // the upstream. --processes: each runs in its own process, as Goose and the gateway do.
  let gateway: Awaited<ReturnType<GatewayModules['server']['createGatewayServer']>> | undefined;
  let gatewayUrl: string;
  let token: string | undefined;
  let passthroughUrl: string;
  let gatewayCpuMs: (() => Promise<number>) | undefined;
  const stops: Array<() => Promise<void>> = [];
  if (inProcesses) {
    let servers;
    try {
      servers = await Promise.all([startServer('gateway', upstream.baseUrl, undefined, without, gw.build), startServer('passthrough', upstream.baseUrl)]);
    } catch (err) {
      // The started server leaves when this process exits (it stops on disconnect).
      rmSync(dataDir, { recursive: true, force: true });
      fail((err as Error).message);
    }
    const [server, pt] = servers;
    stops.push(() => server.stop(), () => pt.stop());
    gatewayUrl = server.url;
    token = server.token;
    passthroughUrl = pt.url;
    gatewayCpuMs = async () => (await server.cpuMicros()) / 1000;
  } else {
    const config = { ...defaultGatewayConfig(), port: 0, upstreams: [{ name: 'primary', kind: 'openrouter' as const, baseUrl: upstream.baseUrl, apiKeyEnv: 'BENCH_KEY' }] };
    const inProcess = await gw.server.createGatewayServer({ config, dataDir, logger: gw.logger.createLogger({ level: 'silent', dataDir, name: 'gateway', stdout: false }), env: { BENCH_KEY: 'sk-bench' } });
    gateway = inProcess;
    stops.push(() => inProcess.close());
    try {
      dropStages(inProcess.services.stages, without);
    } catch (err) {
      for (const stop of stops) await stop();
      rmSync(dataDir, { recursive: true, force: true });
      fail((err as Error).message);
    }
    gatewayUrl = await inProcess.listen();
    token = inProcess.services.localToken;
    const pt = await startPassthrough(directUrl.origin);
    stops.push(() => pt.close());
    passthroughUrl = pt.url;
  }
  const stageTimes = timeEachStage && gateway ? timeStages(gateway.services.stages, () => bigTurn) : undefined;
  const dispatcher = new Agent({ connections: 4 });
  const viaGateway = `${gatewayUrl}/v1/chat/completions`;
  const viaPassthrough = `${passthroughUrl}${directUrl.pathname}`;

  try {
    // Warm-up: one short session each way (JIT, connections), on its own nonce.
    for (const body of sessionBodies(4, 'warmup', files)) {
      await send(dispatcher, direct, body, undefined);
      await send(dispatcher, viaPassthrough, body, undefined);
      await send(dispatcher, viaGateway, body, token);
    }
    upstream.received.length = 0;
    const added: number[][] = Array.from({ length: turns }, () => []);
    const addedCpu: number[][] = Array.from({ length: turns }, () => []);
    const directMs: number[][] = Array.from({ length: turns }, () => []);
    const passAdded: number[][] = Array.from({ length: turns }, () => []);
    const scanned: number[][] = Array.from({ length: turns }, () => []);
    const sizes: number[] = [];
    const memos = gateway?.services.guardMemos;
    for (let run = 0; run < runs; run++) {
      const bodies = sessionBodies(turns, `run-${run}-${Date.now().toString(36)}`, files);
      for (let t = 0; t < turns; t++) {
        const body = bodies[t]!;
        sizes[t] = Buffer.byteLength(body);
        bigTurn = sizes[t]! >= 250 * 1024;
        const memo = memos?.forTenant(defaultGatewayConfig().identity.tenantId);
        const scannedBefore = memo?.scannedChars ?? 0;
        // Each turn goes all three ways, the order rotating so none always runs first or last.
        const ways = [
          { url: direct, token: undefined },
          { url: viaGateway, token },
          { url: viaPassthrough, token: undefined },
        ];
        const took: Array<{ ms: number; cpu: number }> = [];
        const gatewayCpuBefore = await gatewayCpuMs?.();
        for (let k = 0; k < ways.length; k++) {
          const w = (run + t + k) % ways.length;
          took[w] = await send(dispatcher, ways[w]!.url, body, ways[w]!.token);
          await idle(gapMs);
        }
        const [d, g, p] = took as [{ ms: number; cpu: number }, { ms: number; cpu: number }, { ms: number; cpu: number }];
        passAdded[t]!.push(p.ms - d.ms);
        // The scripted upstream records every request; drop them so the heap stays the session's.
        upstream.received.length = 0;
        added[t]!.push(g.ms - d.ms);
        // In-process: this process's CPU through the gateway minus direct. --processes: the gateway
        // process's own CPU over the turn (its after-answer work included).
        addedCpu[t]!.push(gatewayCpuBefore !== undefined ? (await gatewayCpuMs!()) - gatewayCpuBefore : g.cpu - d.cpu);
        directMs[t]!.push(d.ms);
        scanned[t]!.push((memo?.scannedChars ?? 0) - scannedBefore);
      }
    }

    const fmt = (n: number) => n.toFixed(2).padStart(7);
    const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`.padStart(7);
    process.stdout.write(`\nGoose-shaped session: ${turns} turns × ${runs} runs, 30 tool schemas, stream + include_usage, ${gapMs} ms idle after each request; node ${process.version}; gateway ${gw.build === 'dist' ? 'from dist/ (built package)' : 'from its sources (tsx)'}; ${inProcesses ? 'gateway and passthrough each in its own process' : 'gateway, passthrough, client and upstream in this one process'}${without.length > 0 ? `; gateway WITHOUT ${without.join(', ')}` : ''}\n\n`);
    process.stdout.write(' turn    body  direct P50  added P50  added P99  added CPU P50  passthrough added P50  scanned afresh (median; in-process only)\n');
    for (let t = 0; t < turns; t++) {
      const s = [...scanned[t]!].sort((a, b) => a - b);
      process.stdout.write(`${String(t + 1).padStart(5)} ${kb(sizes[t]!)}  ${fmt(percentile(directMs[t]!, 50))} ms ${fmt(percentile(added[t]!, 50))} ms ${fmt(percentile(added[t]!, 99))} ms  ${fmt(percentile(addedCpu[t]!, 50))} ms  ${fmt(percentile(passAdded[t]!, 50))} ms           ${memos ? kb(s[Math.floor(s.length / 2)]!) : '    n/a'}\n`);
    }
    const big = added.flatMap((a, t) => (sizes[t]! >= 250 * 1024 ? a : []));
    const bigTurns = sizes.filter((s) => s >= 250 * 1024).length;
    process.stdout.write(`\nTurns of ≥ 250 KB: ${bigTurns} (× ${runs} runs = ${big.length} samples)\n`);
    if (big.length > 0) {
      process.stdout.write(`  added latency P50 ${percentile(big, 50).toFixed(2)} ms, P99 ${percentile(big, 99).toFixed(2)} ms (goal: P50 ≤ 3 ms)\n`);
      const bigPass = passAdded.flatMap((a, t) => (sizes[t]! >= 250 * 1024 ? a : []));
      const aboveFloor = added.flatMap((a, t) => (sizes[t]! >= 250 * 1024 ? a.map((g, i) => g - passAdded[t]![i]!) : []));
      process.stdout.write(`  raw passthrough (the floor of one proxy hop) added P50 ${percentile(bigPass, 50).toFixed(2)} ms; gateway above it P50 ${percentile(aboveFloor, 50).toFixed(2)} ms; ratio gateway/passthrough added ${(percentile(big, 50) / Math.max(0.01, percentile(bigPass, 50))).toFixed(2)}\n`);
      const bigCpu = addedCpu.flatMap((a, t) => (sizes[t]! >= 250 * 1024 ? a : []));
      process.stdout.write(inProcesses
        ? `  gateway process CPU per turn P50 ${percentile(bigCpu, 50).toFixed(2)} ms, P99 ${percentile(bigCpu, 99).toFixed(2)} ms (its after-answer work included; steadier than wall time on a busy machine)\n`
        : `  added process CPU P50 ${percentile(bigCpu, 50).toFixed(2)} ms, P99 ${percentile(bigCpu, 99).toFixed(2)} ms (steadier than wall time on a busy machine)\n`);
      process.stdout.write(`  load average ${loadavg().map((l) => l.toFixed(2)).join(', ')}\n`);
    }
    const memo = memos?.forTenant(defaultGatewayConfig().identity.tenantId);
    if (memo) {
      process.stdout.write(`Detection memo: ${memo.entries} entries, ${(memo.bytes / 1024).toFixed(1)} KB accounted (bound ${DEFAULT_MEMO_BYTES_PER_TENANT / 1048576} MB per tenant); hits ${memo.hits}, misses ${memo.misses}\n`);
    }
    const kept = gateway?.services.previousTurns;
    if (kept) process.stdout.write(`Kept previous turns: ${(kept.bytes / 1048576).toFixed(1)} MB accounted (the latest turn of each conversation, three times its body; bound ${DEFAULT_PREVIOUS_TURNS_MEGABYTES} MB)\n`);
    if (stageTimes) {
      process.stdout.write('Per stage on turns ≥ 250 KB (in-process wall time; forward includes the upstream):\n');
      for (const [name, list] of stageTimes) {
        process.stdout.write(`  ${name.padEnd(34)} P50 ${percentile(list, 50).toFixed(3).padStart(7)} ms  P99 ${percentile(list, 99).toFixed(3).padStart(7)} ms\n`);
      }
    }
    maskingOnly(gw, turns, Math.max(2, Math.min(runs, 6)), files);
    process.stdout.write(`Process heap used: ${(process.memoryUsage().heapUsed / 1048576).toFixed(1)} MB\n`);
  } finally {
    await dispatcher.close();
    for (const stop of stops) await stop();
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();
