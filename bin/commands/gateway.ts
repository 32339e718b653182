/** `switchboard gateway` (run the proxy) and `switchboard token` (print the local caller token). */
import type { Command } from 'commander';
import { addDataDirOption, loadContext, parsePort, parseUrl, type CommonOptions } from '../cli-support.js';
import { applyGatewayEnv } from '../gateway-env.js';
import { createGatewayServer } from '../../gateway/server.js';
import { createLogger } from '../../gateway/logger.js';
import { loadOrCreateLocalToken } from '../../gateway/local-token.js';

interface GatewayFlags extends CommonOptions {
  host?: string;
  port?: string;
  upstream?: string;
  logLevel?: string;
}

export function registerGatewayCommands(program: Command): void {
  addDataDirOption(
    program
      .command('gateway')
      .description('Run the OpenAI/Anthropic-compatible gateway on 127.0.0.1 (Goose points its provider here)')
      .option('--host <host>', 'address to bind (default 127.0.0.1; loopback only unless you mean it)')
      .option('--port <port>', 'port to listen on (default 8787)')
      .option('--upstream <url>', 'primary upstream base URL (default https://openrouter.ai/api/v1; env SWITCHBOARD_UPSTREAM_URL)')
      .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
      .addHelpText('after', `
Upstream key: OPENROUTER_API_KEY or SWITCHBOARD_UPSTREAM_KEY in the environment.
Callers authenticate with the local token printed by \`switchboard token\`.
Config file: <data-dir>/switchboard.yaml (see \`switchboard config check\`).`),
  ).action(async (flags: GatewayFlags) => {
    const { dataDir, config } = loadContext(flags);
    const gateway = applyGatewayEnv(config.gateway, process.env);
    if (flags.host) gateway.host = flags.host;
    if (flags.port !== undefined) gateway.port = parsePort(flags.port);
    if (flags.upstream) gateway.upstreams = [{ ...gateway.upstreams[0]!, baseUrl: parseUrl('--upstream', flags.upstream) }, ...gateway.upstreams.slice(1)];
    if (flags.logLevel) gateway.logLevel = flags.logLevel as typeof gateway.logLevel;
    const logger = createLogger({ dataDir: dataDir.root, name: 'gateway', level: gateway.logLevel, stdout: true });
    const server = await createGatewayServer({ config: gateway, dataDir: dataDir.root, logger });
    const url = await server.listen();
    logger.info({ url, upstreams: server.services.upstreams.status(), dataDir: dataDir.root }, 'gateway listening');
    const stop = async () => {
      logger.info('gateway stopping');
      await server.close();
      logger.flush();
      process.exit(0);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

  addDataDirOption(
    program.command('token').description('Print the local gateway token (created on first use, stored 0600 in the data dir)'),
  ).action((flags: CommonOptions) => {
    const { dataDir } = loadContext(flags);
    process.stdout.write(`${loadOrCreateLocalToken(dataDir.root)}\n`);
  });
}
