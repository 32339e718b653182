/** Every command group, in the order `switchboard --help` lists them. One file per group. */
import type { Command } from 'commander';
import { registerUpCommand } from './up.js';
import { registerGatewayCommands } from './gateway.js';
import { registerConfigCommands } from './config.js';

export const commandGroups: Array<(program: Command) => void> = [
  registerUpCommand,
  registerGatewayCommands,
  registerConfigCommands,
];
