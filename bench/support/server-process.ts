/**
 * Entry point of one benchmark server process (forked by bench/overhead.ts and bench:goose-session
 * --processes; arguments: role, upstream URL, stages to leave out, gateway build `sources`|`dist`):
 *   upstream     the scripted test upstream (test/support/scripted-upstream.ts)
 *   passthrough  the raw undici passthrough (the floor), in front of the upstream
 *   gateway      the real gateway with its default pipeline, in front of the upstream
 *   gateway-spine  the same gateway with only the spine stages (authenticate, loadPolicy,
 *                forward), to tell the spine's cost from the optional stages'
 * Reports its URL over IPC, answers CPU-usage probes, exits on "stop".
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startScriptedUpstream, openAiCompletion, openAiStream, type ReceivedRequest, type ScriptedReply } from '../../test/support/scripted-upstream.js';
import { loadGateway, type GatewayBuild } from './gateway-build.js';
import { startPassthrough } from './passthrough.js';
import { dropStages } from './pipeline-stages.js';
import { DRIP_HEADER, SPINE_STAGES, STREAM_PIECES, type ChildMessage, type ParentMessage, type ServerRole } from './protocol.js';

function send(message: ChildMessage): void {
  process.send?.(message);
}

/** Same answer shapes as the scripted upstream's defaults, plus an optional drip for overlap tests. */
function benchReply(req: ReceivedRequest): ScriptedReply {
  const body = (req.body ?? {}) as { stream?: boolean; model?: string };
  if (!body.stream) {
    return { kind: 'json', body: openAiCompletion({ model: body.model, content: STREAM_PIECES.join('') }) };
  }
  const drip = Number(req.headers[DRIP_HEADER] ?? 0);
  return {
    kind: 'sse',
    events: openAiStream({ model: body.model, contentPieces: STREAM_PIECES }),
    ...(drip > 0 ? { delayMs: drip } : {}),
  };
}

async function start(role: ServerRole, target: string | undefined, without: string[], build: GatewayBuild): Promise<() => Promise<void>> {
  if (role === 'upstream') {
    const upstream = await startScriptedUpstream();
    upstream.setDefault(benchReply);
    // The scripted upstream records every request for tests; a benchmark would grow that without bound.
    const trim = setInterval(() => {
      upstream.received.length = 0;
    }, 250);
    send({ type: 'ready', role, url: upstream.baseUrl });
    return async () => {
      clearInterval(trim);
      await upstream.close();
    };
  }
  if (!target) throw new Error(`${role} needs the upstream URL as its second argument`);
  if (role === 'passthrough') {
    const passthrough = await startPassthrough(new URL(target).origin);
    send({ type: 'ready', role, url: passthrough.url });
    return () => passthrough.close();
  }
  const { config: { defaultGatewayConfig }, server: { createGatewayServer }, logger: { createLogger } } = await loadGateway(build);
  const dataDir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
  // The production logger (file, async), so logging cost is part of what is measured.
  const logger = createLogger({ dataDir, name: 'gateway', level: 'info', stdout: false });
  const config = {
    ...defaultGatewayConfig(),
    port: 0,
    upstreams: [{ name: 'bench-upstream', kind: 'openrouter' as const, baseUrl: target, apiKeyEnv: 'BENCH_UPSTREAM_KEY' }],
  };
  const gateway = await createGatewayServer({ config, dataDir, logger, env: { BENCH_UPSTREAM_KEY: 'sk-bench-upstream' } });
  const stages = gateway.services.stages;
  try {
    dropStages(stages, role === 'gateway-spine' ? stages.map((s) => s.name).filter((name) => !SPINE_STAGES.includes(name)) : without);
  } catch (err) {
    await gateway.close();
    // Removed as this process exits, not now: the async log file may still be opening in it.
    process.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
    throw err;
  }
  const url = await gateway.listen();
  send({
    type: 'ready',
    role,
    url,
    token: gateway.services.localToken,
    stages: gateway.services.stages.map((s) => `${s.name} (${s.phase})`),
  });
  return async () => {
    await gateway.close();
    logger.flush();
    rmSync(dataDir, { recursive: true, force: true });
  };
}

const role = process.argv[2] as ServerRole;
if (role !== 'upstream' && role !== 'passthrough' && role !== 'gateway' && role !== 'gateway-spine') {
  process.stderr.write(`unknown server role "${String(role)}"\n`);
  process.exit(2);
}

try {
  // Optional for `gateway`: comma-separated stages to leave out (to price one stage), then the build.
  const build: GatewayBuild = process.argv[5] === 'dist' ? 'dist' : 'sources';
  const stop = await start(role, process.argv[3], (process.argv[4] ?? '').split(',').filter(Boolean), build);
  process.on('message', (message: ParentMessage) => {
    if (message.type === 'cpu') {
      const usage = process.cpuUsage();
      send({ type: 'cpu', seq: message.seq, userMicros: usage.user, systemMicros: usage.system, rssBytes: process.memoryUsage.rss() });
    } else if (message.type === 'stop') {
      void stop().finally(() => process.exit(0));
    }
  });
  // If the parent dies, do not linger.
  process.on('disconnect', () => void stop().finally(() => process.exit(0)));
} catch (err) {
  send({ type: 'failed', message: err instanceof Error ? err.message : String(err) });
  // Let the logger finish opening and the loop drain rather than exiting mid-write.
  process.exitCode = 1;
  process.disconnect?.();
}
