#!/usr/bin/env node
/** The `switchboard` command line. Each command group lives in its own file under bin/commands/. */
import { buildProgram } from './program.js';
import { CliError } from './cli-support.js';

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  if (err instanceof CliError) {
    process.stderr.write(`switchboard: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  throw err;
}
