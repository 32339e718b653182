/** Runs `switchboard <args>` in this process with extra env; exit code 2 + message for a CliError, as bin/switchboard.ts does. */
import { buildProgram } from '../../bin/program.js';
import { CliError } from '../../bin/cli-support.js';

export async function cliInProcess(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const realOut = process.stdout.write.bind(process.stdout);
  const realErr = process.stderr.write.bind(process.stderr);
  const savedEnv = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  // The CLI writes strings; `node --test` sends its own reports to the parent as bytes on stdout,
  // which must still reach it while a command runs.
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) =>
    typeof chunk === 'string' ? out.push(chunk) > 0 : (realOut as (c: Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest)) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) =>
    typeof chunk === 'string' ? err.push(chunk) > 0 : (realErr as (c: Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest)) as typeof process.stderr.write;
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'switchboard', ...args]);
    return { code: 0, stdout: out.join(''), stderr: err.join('') };
  } catch (e) {
    if (e instanceof CliError) return { code: e.exitCode, stdout: out.join(''), stderr: `switchboard: ${e.message}\n` };
    throw e;
  } finally {
    process.stdout.write = realOut;
    process.stderr.write = realErr;
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
