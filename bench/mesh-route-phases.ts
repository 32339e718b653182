/**
 * Where one `POST /api/v1/tasks/route` spends its time, measured inside one controller process
 * on PostgreSQL under a modest load (default 30 routes/s for 20 s, 30 long-polling agents that
 * finish every task at once; like real agents they poll with a 25 s wait and heartbeat every 10 s), so the phases can be compared before/after a change on a machine
 * whose wall-clock numbers are noisy (bench/mesh.ts is the end-to-end bench with two controllers).
 *
 * Per route it records: every SQL statement (its round trip, and the wait for a pool connection
 * before it), the router's phases (sender, candidates, Cedar, Privacy Guard, task insert, audit
 * append), the Idempotency-Key claim and answer, and the time the route took as the client saw
 * it. Also the event loop's delay and GC pauses over the run. The load generator (callers and
 * agents) runs in a child process, so it does not share the controller's event loop.
 *
 * Run: npm run bench:mesh-route [-- --rate 30 --seconds 10 --agents 30 --pool 20]
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { setMaxListeners } from 'node:events';
import { subscribe } from 'node:diagnostics_channel';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { monitorEventLoopDelay, performance, PerformanceObserver } from 'node:perf_hooks';
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';

const USAGE = `Usage: npm run bench:mesh-route [-- options]
Times the phases of POST /api/v1/tasks/route inside one controller process on PostgreSQL.
  --rate N      routes per second (default 30)
  --seconds N   length of the run (default 20)
  --agents N    long-polling agents, in three roles (default 30)
  --pool N      PostgreSQL pool size of the controller (default: the controller's default)
  --idle-agents the agents are registered but do not poll (the controller's and PostgreSQL's
                CPU time per route is then the route's alone: steadier than wall time on a busy machine)
  -h, --help    this text
PostgreSQL: SWITCHBOARD_TEST_PG_URL or postgres://postgres@127.0.0.1:5432/test (a fresh schema, dropped after).
`;

interface LoadConfig {
  url: string;
  polling: boolean;
  rate: number;
  seconds: number;
  people: Array<{ id: string; role: string; token: string }>;
}
interface LoadResult {
  routes: Array<{ messageId: string; ms: number; status: number }>;
  results: number;
}

const LOAD_ENV = 'MESH_ROUTE_PHASES_LOAD';
if (process.env[LOAD_ENV]) {
  process.once('message', (cfg) => void runLoad(cfg as LoadConfig));
} else {
  await main();
}

/** The callers and the agents, in a child process. */
async function runLoad(cfg: LoadConfig): Promise<void> {
  const { Agent: HttpPool, fetch: poolFetch } = await import('undici');
  const callers = new HttpPool({ connections: 50 });
  let running = true;
  let results = 0;
  const stop = new AbortController();
  // Every call listens on this one signal (undici lets go of a listener only when its request is
  // collected): not a leak, so no MaxListenersExceededWarning in the middle of the report.
  setMaxListeners(0, stop.signal);
  const call = async (token: string, method: string, path: string, body: unknown, dispatcher: InstanceType<typeof HttpPool>) => {
    const res = await poolFetch(`${cfg.url}${path}`, {
      dispatcher,
      method,
      signal: stop.signal,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json', 'idempotency-key': randomUUID() } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, json: (await res.json()) as { items?: Array<{ taskId: string; leaseId: string }>; [k: string]: unknown } };
  };
  // Like the real worker (mesh/client.ts): the default 25 s long-poll, a heartbeat every 10 s (decision 0074).
  const beats: NodeJS.Timeout[] = [];
  const agents = (cfg.polling ? cfg.people : []).map(async (p) => {
    const conn = new HttpPool({ connections: 2 });
    const beat = () => void call(p.token, 'POST', `/api/v1/agents/${p.id}-agent/heartbeat`, { load: 0 }, conn).catch(() => undefined);
    beats.push(setTimeout(() => { beat(); beats.push(setInterval(beat, 10_000)); }, Math.random() * 10_000));
    while (running) {
      const r = await call(p.token, 'GET', `/api/v1/agents/${p.id}-agent/work?waitMs=25000&max=5`, undefined, conn).catch(() => undefined);
      for (const item of r?.json.items ?? []) {
        const done = await call(p.token, 'POST', `/api/v1/tasks/${item.taskId}/result`, { leaseId: item.leaseId, state: 'completed' }, conn).catch(() => undefined);
        if (done?.status === 200) results++;
      }
    }
    await conn.close();
  });
  const roles = [...new Set(cfg.people.map((p) => p.role))];
  const routes: LoadResult['routes'] = [];
  const sent: Promise<void>[] = [];
  const start = performance.now();
  for (let k = 0; k < cfg.rate * cfg.seconds; k++) {
    const wait = start + (k * 1000) / cfg.rate - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const p = cfg.people[k % cfg.people.length]!;
    const messageId = `phases-${k}`;
    const t0 = performance.now();
    sent.push(
      call(p.token, 'POST', '/api/v1/tasks/route', { target: roles[(roles.indexOf(p.role) + 1) % roles.length], task: { title: `phases ${k}` }, messageId }, callers).then(
        (r) => void routes.push({ messageId, ms: performance.now() - t0, status: r.status }),
        () => void routes.push({ messageId, ms: performance.now() - t0, status: 0 }),
      ),
    );
  }
  await Promise.all(sent);
  await new Promise((r) => setTimeout(r, 1500));
  running = false;
  beats.forEach((t) => clearTimeout(t));
  stop.abort();
  await Promise.all(agents);
  await callers.close();
  process.send!({ routes, results } satisfies LoadResult, () => process.exit(0));
}

/** One route's record: phase name → total ms, and its statements. */
interface RouteTrace {
  messageId: string | undefined;
  phases: Map<string, number>;
  statements: Array<{ sql: string; waitMs: number; ms: number }>;
  start: number;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({ args: process.argv.slice(2), options: { rate: { type: 'string' }, seconds: { type: 'string' }, agents: { type: 'string' }, pool: { type: 'string' }, 'idle-agents': { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } }, strict: true });
  } catch (err) {
    process.stderr.write(`bench:mesh-route: ${(err as Error).message}\n(run with --help for usage)\n`);
    process.exit(2);
  }
  if (parsed.values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const int = (flag: string, v: string | undefined, d: number) => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) {
      process.stderr.write(`bench:mesh-route: --${flag} must be a positive integer (got "${v}")\n`);
      process.exit(2);
    }
    return n;
  };
  const RATE = int('rate', parsed.values.rate, 30);
  const SECONDS = int('seconds', parsed.values.seconds, 20);
  const AGENTS = int('agents', parsed.values.agents, 30);
  const POOL = int('pool', parsed.values.pool, 0);
  const POLLING = !parsed.values['idle-agents'];

  const traces = new AsyncLocalStorage<RouteTrace>();
  const done: RouteTrace[] = [];
  const time = (name: string, ms: number) => {
    const t = traces.getStore();
    if (t) t.phases.set(name, (t.phases.get(name) ?? 0) + ms);
  };
  // A route's trace starts when its HTTP request arrives (before auth and the Idempotency-Key
  // claim) and ends when its answer is written.
  subscribe('http.server.request.start', (msg) => {
    const { request, response } = msg as { request: { url?: string; method?: string }; response: { once(ev: string, f: () => void): void } };
    if (request.method !== 'POST' || request.url !== '/api/v1/tasks/route') return;
    const trace: RouteTrace = { messageId: undefined, phases: new Map(), statements: [], start: performance.now() };
    traces.enterWith(trace);
    response.once('finish', () => {
      trace.phases.set('server total', performance.now() - trace.start);
      done.push(trace);
    });
  });

  // Every statement and every wait for a pool connection, attributed to the route being served.
  const origQuery = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  const backends = new Set<number>();
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const pid = (this as unknown as { processID?: number }).processID;
    if (pid) backends.add(pid);
    const t = traces.getStore();
    const out = origQuery.apply(this, args);
    if (t && out instanceof Promise) {
      const t0 = performance.now();
      const sql = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string }).text ?? '?';
      const waitMs = pendingWait.get(this) ?? 0;
      pendingWait.delete(this);
      out.then(
        () => t.statements.push({ sql, waitMs, ms: performance.now() - t0 }),
        () => t.statements.push({ sql: `FAILED ${sql}`, waitMs, ms: performance.now() - t0 }),
      );
    }
    return out;
  } as typeof pg.Client.prototype.query;
  const pendingWait = new WeakMap<pg.Client, number>();
  const origConnect = pg.Pool.prototype.connect as (...args: unknown[]) => Promise<pg.PoolClient>;
  pg.Pool.prototype.connect = function (this: pg.Pool, ...args: unknown[]) {
    const t0 = performance.now();
    const p = origConnect.apply(this, args);
    return p.then((c) => {
      pendingWait.set(c, performance.now() - t0);
      time('pool wait', performance.now() - t0);
      return c;
    });
  } as typeof pg.Pool.prototype.connect;

  const { runController } = await import('../controller/run.js');
  const { importDirectory } = await import('../controller/directory/import.js');

  const PG_URL = process.env.SWITCHBOARD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const schema = `bench_phases_${process.pid}_${randomBytes(3).toString('hex')}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-bench-phases-'));
  const roles = ['finance', 'marketing', 'engineering'];
  const people = Array.from({ length: AGENTS }, (_, i) => ({ id: `p${String(i).padStart(3, '0')}`, role: roles[i % 3]! }));
  const yaml = ['nodes:', '  - { id: acme, kind: org, name: ACME }', ...roles.map((r) => `  - { id: ${r}, kind: role, name: ${r} }`),
    ...people.map((p, i) => `  - { id: ${p.id}, kind: person, name: Person ${i}, parent: acme, roles: [${p.role}]${i >= 3 ? `, manager: ${people[i % 3]!.id}` : ''} }`)].join('\n');
  // Started as `switchboard controller` starts it (runController), on a free port.
  const controller = await runController({ dataDir, dbUrl: `${PG_URL}?schema=${schema}${POOL ? `&poolSize=${POOL}` : ''}`, port: 0, logLevel: 'silent' });
  const { services, url } = controller;
  try {
    await importDirectory(yaml, 'yaml', 'bench.yaml', services.directory);
    const withTokens = [];
    for (const p of people) {
      const token = (await services.tokens.mintAccessToken({ subject: p.id, roles: [p.role], authMethod: 'bench', ttlSeconds: 1800 })).token;
      const res = await fetch(`${url}/api/v1/agents`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ agentId: `${p.id}-agent`, role: p.role, capacity: 8 }) });
      if (res.status !== 200) throw new Error(`register ${p.id}: ${res.status} ${await res.text()}`);
      withTokens.push({ ...p, token });
    }

    // The router's phases: wrap the services' methods the route calls.
    const mesh = services.mesh;
    const wrap = <T extends object>(obj: T, method: keyof T & string, name: string) => {
      const orig = obj[method] as unknown as (...a: unknown[]) => unknown;
      (obj as Record<string, unknown>)[method] = function (this: unknown, ...a: unknown[]) {
        const t0 = performance.now();
        const out = orig.apply(this, a);
        if (out instanceof Promise) return out.finally(() => time(name, performance.now() - t0));
        time(name, performance.now() - t0);
        return out;
      };
    };
    const router = mesh.router as unknown as Record<string, unknown>;
    wrap(router, 'route', 'handler (router.route)');
    const routeFn = router['route'] as (caller: unknown, req: { messageId?: string }, ...rest: unknown[]) => unknown;
    router['route'] = function (this: unknown, caller: unknown, req: { messageId?: string }, ...rest: unknown[]) {
      const t = traces.getStore();
      if (t) t.messageId = req.messageId;
      return routeFn.call(this, caller, req, ...rest);
    };
    wrap(router, 'sender', 'sender');
    wrap(router, 'pick', 'candidates (pick)');
    wrap(router, 'principal', 'Cedar principal facts');
    wrap(services.evaluator, 'evaluate', 'Cedar evaluate');
    wrap(mesh.boundary, 'maskFor', 'Privacy Guard mask');
    wrap(mesh.queue, 'enqueueWithTask', 'task + deliveries insert');
    wrap(mesh.queue, 'backlogs', 'backlogs');
    wrap(mesh.audit, 'route', 'audit append (RouteEvent)');
    wrap(services.tokens, 'verify', 'token verify');

    const loop = monitorEventLoopDelay({ resolution: 10 });
    const gcPauses: number[] = [];
    const gcObserver = new PerformanceObserver((list) => list.getEntries().forEach((e) => gcPauses.push(e.duration)));
    gcObserver.observe({ entryTypes: ['gc'] });
    const load0 = loadavg()[0]!;
    // PostgreSQL's side: CPU time of the controller's backends (this machine's /proc), in clock ticks.
    const backendTicks = () => {
      let ticks = 0;
      for (const pid of backends) {
        try {
          const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
          ticks += Number(f[11]) + Number(f[12]);
        } catch {
          // not on this machine, or gone
        }
      }
      return ticks;
    };
    const pg0 = backendTicks();
    const cpu0 = process.cpuUsage();
    const wall0 = performance.now();
    loop.enable();
    const child = fork(fileURLToPath(import.meta.url), [], { env: { ...process.env, [LOAD_ENV]: '1' }, execArgv: process.execArgv });
    child.send({ url, polling: POLLING, rate: RATE, seconds: SECONDS, people: withTokens } satisfies LoadConfig);
    const result = await new Promise<LoadResult>((resolve, reject) => {
      child.once('message', (m) => resolve(m as LoadResult));
      child.once('exit', (code) => reject(new Error(`load generator exited (code ${code})`)));
    });
    loop.disable();
    gcObserver.disconnect();
    const cpu = process.cpuUsage(cpu0);
    const pgCpuS = (backendTicks() - pg0) / 100;
    const wallS = (performance.now() - wall0) / 1000;

    const pct = (xs: number[], p: number) => {
      if (xs.length === 0) return NaN;
      const s = [...xs].sort((a, b) => a - b);
      return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
    };
    // P10 too: on a machine shared with other work it moves least with their load.
    const fmt = (xs: number[]) => `P10 ${pct(xs, 10).toFixed(2).padStart(7)}  P50 ${pct(xs, 50).toFixed(2).padStart(7)}  P99 ${pct(xs, 99).toFixed(2).padStart(7)}  max ${Math.max(...xs).toFixed(1).padStart(6)}`;
    const ok = result.routes.filter((r) => r.status === 202);
    // The first 2 s are start-up (cold JIT and connections): reported apart, like bench/mesh.ts does.
    const coldCount = 2 * RATE;
    const isCold = (messageId: string) => Number(messageId.slice('phases-'.length)) < coldCount;
    const warm = result.routes.filter((r) => r.status === 202 && !isCold(r.messageId));
    const cold = result.routes.filter((r) => r.status === 202 && isCold(r.messageId));
    const warmTraces = done.filter((t) => t.phases.has('handler (router.route)') && t.messageId !== undefined && !isCold(t.messageId));
    console.log(`mesh route phases — PostgreSQL, 1 controller, ${AGENTS} agents, ${RATE} routes/s for ${SECONDS} s; ${cpus().length} CPUs, load average ${load0.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at end`);
    console.log(`routes answered 202: ${ok.length} of ${result.routes.length}; results accepted ${result.results}`);
    const perRoute = POLLING ? "incl. agents' polls and results" : 'agents idle';
    console.log(`controller CPU: ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s in ${wallS.toFixed(1)} s (${(((cpu.user + cpu.system) / 1e6 / wallS) * 100).toFixed(0)}% of a CPU, load generator excluded); per route ${((cpu.user + cpu.system) / 1000 / Math.max(1, ok.length)).toFixed(2)} ms, ${perRoute}`);
    console.log(`PostgreSQL CPU (the controller's ${backends.size} backends): ${pgCpuS.toFixed(2)} s; per route ${((pgCpuS * 1000) / Math.max(1, ok.length)).toFixed(2)} ms, ${perRoute}`);
    console.log(`event loop delay: P50 ${(loop.percentile(50) / 1e6).toFixed(2)} ms  P99 ${(loop.percentile(99) / 1e6).toFixed(2)} ms  max ${(loop.max / 1e6).toFixed(1)} ms; GC pauses ${gcPauses.length}, total ${gcPauses.reduce((a, b) => a + b, 0).toFixed(0)} ms, max ${Math.max(0, ...gcPauses).toFixed(1)} ms`);
    console.log('');
    console.log(`client-side route time, first 2 s (cold, ${cold.length}): ${fmt(cold.map((r) => r.ms))}`);
    console.log(`client-side route time, after    (warm, ${warm.length}): ${fmt(warm.map((r) => r.ms))}`);
    console.log('');
    console.log(`per-route phases after the first 2 s (${warmTraces.length} routes; ms, phases overlap where run at once):`);
    const names = [...new Set(warmTraces.flatMap((t) => [...t.phases.keys()]))];
    for (const name of names) console.log(`  ${name.padEnd(28)} ${fmt(warmTraces.map((t) => t.phases.get(name) ?? 0))}`);
    const stmts = warmTraces.map((t) => t.statements.length);
    console.log(`  ${'statements per route'.padEnd(28)} P50 ${pct(stmts, 50)}  max ${Math.max(...stmts)}`);
    console.log('');
    console.log('statements (all warm routes; round trip and pool wait before it, ms):');
    const bySql = new Map<string, { ms: number[]; wait: number[] }>();
    for (const t of warmTraces) {
      for (const s of t.statements) {
        const key = s.sql.replace(/\s+/g, ' ').replace(/\$\d+(, \$\d+)*/g, '$…').slice(0, 110);
        const e = bySql.get(key) ?? { ms: [], wait: [] };
        e.ms.push(s.ms);
        e.wait.push(s.waitMs);
        bySql.set(key, e);
      }
    }
    for (const [sql, e] of [...bySql].sort((a, b) => b[1].ms.length - a[1].ms.length)) {
      console.log(`  ${String(e.ms.length).padStart(5)}×  rt P50 ${pct(e.ms, 50).toFixed(2)} P99 ${pct(e.ms, 99).toFixed(2)}  wait P99 ${pct(e.wait, 99).toFixed(2)}  ${sql}`);
    }
    console.log('');
    console.log('slowest 5 warm routes (server side):');
    for (const t of [...warmTraces].sort((a, b) => b.phases.get('server total')! - a.phases.get('server total')!).slice(0, 5)) {
      console.log(`  ${t.phases.get('server total')!.toFixed(1)} ms at +${((t.start - wall0) / 1000).toFixed(2)} s: ${[...t.phases].filter(([k]) => k !== 'server total').map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
    }
  } finally {
    await controller.stop();
    const drop = new pg.Client({ connectionString: PG_URL });
    await drop.connect();
    await drop.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await drop.end();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
