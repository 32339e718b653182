/** Builds the `switchboard` command tree (separate from the entry point so tests can inspect it). */
import { Command } from 'commander';
import { commandGroups } from './commands/index.js';

export function buildProgram(): Command {
  const program = new Command()
    .name('switchboard')
    .description('Local-first LLM gateway for AI agents: privacy guard, cost control, policy and audit.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ showGlobalOptions: true });
  for (const register of commandGroups) register(program);
  return program;
}
