/** Starting the gateway from the CLI: config + env + flags, logger, signals. Shared by `gateway` and `up`. */
import type { Logger } from 'pino';
import { CliError, loadContext, parsePort, parseUrl, type CommonOptions } from './cli-support.js';
import { DownshiftRulesError } from '../policies/downshift/load.js';
import { BudgetConfigError } from '../policies/budgets.js';
import { TelemetryConfigError } from '../platform/telemetry/config.js';
import { ControllerLinkError } from '../gateway/bundles/controller-link.js';
import { applyGatewayEnv } from './gateway-env.js';
import type { GatewayConfig } from '../gateway/config.js';
import type { ControllerLinkConfig } from '../gateway/bundles/controller-link-config.js';
import { createGatewayServer, type GatewayServer } from '../gateway/server.js';
import { createLogger } from '../gateway/logger.js';
import { startDemoUpstream } from '../gateway/demo-upstream.js';
import { warmTokenizers } from '../models/tokens.js';

/** The upstream name the offline demo stand-in gets (doctor recognises it in /readyz). */
export const DEMO_UPSTREAM_NAME = 'demo';

export interface GatewayFlags extends CommonOptions {
  host?: string;
  port?: string;
  upstream?: string;
  logLevel?: string;
}

export interface RunningGateway {
  server: GatewayServer;
  url: string;
  logger: Logger;
  /** Set when the offline demo upstream stands in for a missing cloud key. */
  demo: boolean;
  stop(): Promise<void>;
}

function hasKey(config: GatewayConfig, env: NodeJS.ProcessEnv): boolean {
  const primary = config.upstreams[0];
  if (!primary) return false;
  if (primary.kind === 'ollama' || /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(primary.baseUrl)) return true;
  return Boolean(env.SWITCHBOARD_UPSTREAM_KEY || (primary.apiKeyEnv && env[primary.apiKeyEnv]));
}

export interface RunGatewayOptions {
  demoWhenNoKey: boolean;
  /** `switchboard up`: the controller link and identity it enrolled, instead of the config file's. */
  link?: { controller: ControllerLinkConfig; identity: Partial<GatewayConfig['identity']> };
}

export async function runGateway(flags: GatewayFlags, opts: RunGatewayOptions): Promise<RunningGateway> {
  const { dataDir, config } = loadContext(flags);
  const gateway = applyGatewayEnv(config.gateway, process.env);
  if (opts.link) gateway.identity = { ...gateway.identity, ...opts.link.identity };
  const controller = opts.link?.controller ?? config.controller;
  if (flags.host) gateway.host = flags.host;
  if (flags.port !== undefined) gateway.port = parsePort(flags.port);
  if (flags.upstream) gateway.upstreams = [{ ...gateway.upstreams[0]!, baseUrl: parseUrl('--upstream', flags.upstream) }, ...gateway.upstreams.slice(1)];
  if (flags.logLevel) gateway.logLevel = flags.logLevel as GatewayConfig['logLevel'];
  const logger = createLogger({ dataDir: dataDir.root, name: 'gateway', level: gateway.logLevel, stdout: true });

  let demoUpstream: Awaited<ReturnType<typeof startDemoUpstream>> | undefined;
  if (opts.demoWhenNoKey && !hasKey(gateway, process.env)) {
    demoUpstream = await startDemoUpstream();
    gateway.upstreams = [{ name: DEMO_UPSTREAM_NAME, kind: 'openai', baseUrl: demoUpstream.baseUrl }];
    logger.warn(
      { demoUpstream: demoUpstream.baseUrl },
      'no upstream key found (set OPENROUTER_API_KEY or SWITCHBOARD_UPSTREAM_KEY): answering with the offline demo upstream, which shows what a cloud model would receive',
    );
  }
  let server: GatewayServer;
  try {
    server = await createGatewayServer({ config: gateway, dataDir: dataDir.root, logger, ...(controller ? { controller } : {}) });
  } catch (err) {
    await demoUpstream?.close();
    // Mistakes in rule or budget files are the user's to fix: one clear message, no stack.
    if (err instanceof DownshiftRulesError || err instanceof BudgetConfigError || err instanceof TelemetryConfigError || err instanceof ControllerLinkError) throw new CliError(err.message);
    throw err;
  }
  warmTokenizers();
  let url: string;
  try {
    url = await server.listen();
  } catch (err) {
    await server.close();
    await demoUpstream?.close();
    if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw new CliError(`gateway port ${gateway.port} is already in use (choose another with --port)`);
    throw err;
  }
  logger.info({ url, upstreams: server.services.upstreams.status(), dataDir: dataDir.root }, 'gateway listening');
  return {
    server,
    url,
    logger,
    demo: Boolean(demoUpstream),
    async stop() {
      await server.close();
      await demoUpstream?.close();
      logger.flush();
    },
  };
}

/** Stops cleanly on SIGINT/SIGTERM. */
export function stopOnSignals(stop: () => Promise<void>): void {
  const handler = () => {
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', handler);
  process.once('SIGTERM', handler);
}
