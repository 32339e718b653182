#!/usr/bin/env node
/** The `switchboard` command line. Each command group lives in its own file under bin/commands/. */
import { Command } from 'commander';
import { commandGroups } from './commands/index.js';
import { CliError } from './cli-support.js';

const program = new Command()
  .name('switchboard')
  .description('Local-first LLM gateway for AI agents: privacy guard, cost control, policy and audit.')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)')
  .configureHelp({ showGlobalOptions: true });

for (const register of commandGroups) register(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CliError) {
    process.stderr.write(`switchboard: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  throw err;
}
