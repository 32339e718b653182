/** `switchboard gateway` (run the proxy) and `switchboard token` (print the local caller token). */
import type { Command } from 'commander';
import { addDataDirOption, loadContext, type CommonOptions } from '../cli-support.js';
import { runGateway, stopOnSignals, type GatewayFlags } from '../run-gateway.js';
import { loadOrCreateLocalToken } from '../../gateway/local-token.js';

export function addGatewayFlags(cmd: Command): Command {
  return cmd
    .option('--host <host>', 'address to bind (default 127.0.0.1; loopback only unless you mean it)')
    .option('--port <port>', 'port to listen on (default 8787; env SWITCHBOARD_GATEWAY_PORT)')
    .option('--upstream <url>', 'primary upstream base URL (default https://openrouter.ai/api/v1; env SWITCHBOARD_UPSTREAM_URL)')
    .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent')
    .option('--controller-ca <file>', "PEM file of the private CA that signed the controller's certificate (default: controller.caFile)");
}

export function registerGatewayCommands(program: Command): void {
  addDataDirOption(
    addGatewayFlags(
      program
        .command('gateway')
        .description('Run the OpenAI/Anthropic-compatible gateway on 127.0.0.1 (Goose points its provider here)'),
    ).addHelpText('after', `
Upstream key: OPENROUTER_API_KEY or SWITCHBOARD_UPSTREAM_KEY in the environment.
Callers authenticate with the local token printed by \`switchboard token\`.
Config file: <data-dir>/switchboard.yaml (see \`switchboard config check\`).`),
  ).action(async (flags: GatewayFlags) => {
    const running = await runGateway(flags, { demoWhenNoKey: false });
    stopOnSignals(running.stop);
  });

  addDataDirOption(
    program.command('token').description('Print the local gateway token (created on first use, kept in the secret store as gateway.local-token)'),
  ).action((flags: CommonOptions) => {
    const { dataDir } = loadContext(flags);
    process.stdout.write(`${loadOrCreateLocalToken(dataDir.root)}\n`);
  });
}
