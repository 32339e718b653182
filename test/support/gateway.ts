/**
 * Starts a whole gateway in-process for tests: temp data dir, upstream(s) pointed at scripted
 * servers, port 0, logs captured in memory (so tests can assert what was and wasn't logged).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { defaultGatewayConfig, type GatewayConfig } from '../../gateway/config.js';
import { createGatewayServer, type GatewayServer } from '../../gateway/server.js';
import { traceLogMixin } from '../../platform/telemetry/log-context.js';
import { resolveControllerLink, type ControllerLinkInput } from '../../gateway/bundles/controller-link-config.js';
import { after, before } from 'node:test';
import { startScriptedUpstream, type ScriptedUpstream } from './scripted-upstream.js';

export interface TestGateway {
  /** e.g. http://127.0.0.1:54321 */
  url: string;
  token: string;
  dataDir: string;
  server: GatewayServer;
  /** Every log line written so far, raw JSON text. */
  logs: string[];
  close(): Promise<void>;
}

export interface StartGatewayOptions {
  /** Primary upstream base URL (e.g. a scripted upstream's baseUrl). */
  upstreamUrl: string;
  /** Changes to the default gateway config (shallow per key). */
  config?: Partial<GatewayConfig>;
  env?: NodeJS.ProcessEnv;
  /** Clock for circuit-breaker cooldowns, so breaker tests need no real waiting. */
  clock?: () => number;
  /** Link to a controller (the `controller:` config section). */
  controller?: ControllerLinkInput;
  /** Reuse a data dir (e.g. to test restarts); default a fresh temp dir, removed on close. */
  dataDir?: string;
}

export async function startTestGateway(opts: StartGatewayOptions): Promise<TestGateway> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'switchboard-test-'));
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  // The production mixin: lines written inside a traced request carry its traceId and spanId.
  const logger = pino({ level: 'debug', mixin: traceLogMixin }, sink);
  const base = defaultGatewayConfig();
  const config: GatewayConfig = {
    ...base,
    port: 0,
    upstreams: [{ name: 'primary', kind: 'openrouter', baseUrl: opts.upstreamUrl, apiKeyEnv: 'TEST_UPSTREAM_KEY' }],
    retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 2000 },
    ...opts.config,
  };
  const server = await createGatewayServer({ config, dataDir, logger, env: { TEST_UPSTREAM_KEY: 'sk-upstream-test', ...opts.env }, ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.controller ? { controller: resolveControllerLink(opts.controller) } : {}) });
  const url = await server.listen();
  return {
    url,
    token: server.services.localToken,
    dataDir,
    server,
    logs,
    async close() {
      await server.close();
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A scripted upstream and a gateway in front of it for a suite: started before its first test,
 * closed after its last. Read `upstream` and `gw` inside tests (they are set by then).
 */
export function useScriptedGateway(opts: Omit<StartGatewayOptions, 'upstreamUrl'> = {}): { readonly upstream: ScriptedUpstream; readonly gw: TestGateway } {
  let upstream: ScriptedUpstream | undefined;
  let gw: TestGateway | undefined;
  before(async () => {
    upstream = await startScriptedUpstream();
    gw = await startTestGateway({ ...opts, upstreamUrl: upstream.baseUrl });
  });
  after(async () => {
    await gw?.close();
    await upstream?.close();
  });
  const started = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('useScriptedGateway: read upstream and gw inside a test, not at suite definition');
    return v;
  };
  return {
    get upstream() {
      return started(upstream);
    },
    get gw() {
      return started(gw);
    },
  };
}
