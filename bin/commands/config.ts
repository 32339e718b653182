/** `switchboard config check|show`: validate the config file and show the effective values. */
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { addDataDirOption, loadContext, type CommonOptions } from '../cli-support.js';
import { applyGatewayEnv } from '../gateway-env.js';

export function registerConfigCommands(program: Command): void {
  const config = program.command('config').description('Check or show the configuration (<data-dir>/switchboard.yaml)');
  addDataDirOption(
    config.command('check').description('Validate the config file; errors name the key and the expected value'),
  ).action((flags: CommonOptions) => {
    const { configFile } = loadContext(flags);
    process.stdout.write(`${configFile}: OK\n`);
  });
  addDataDirOption(
    config.command('show').description('Print the effective configuration (defaults + file + environment) as YAML'),
  ).action((flags: CommonOptions) => {
    const ctx = loadContext(flags);
    const effective = { ...ctx.config, gateway: applyGatewayEnv(ctx.config.gateway, process.env) };
    process.stdout.write(stringify(effective));
  });
}
