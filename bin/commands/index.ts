/** Every command group, in the order `switchboard --help` lists them. One file per group. */
import type { Command } from 'commander';
import { registerGatewayCommands } from './gateway.js';
import { registerConfigCommands } from './config.js';

export const commandGroups: Array<(program: Command) => void> = [
  registerGatewayCommands,
  registerConfigCommands,
];
