/**
 * How the running `switchboard` was started, so a service can start it the same way: the node
 * binary, the loader flags it was given (e.g. `--import tsx` when run from source) and the script.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Node flags that take a module argument and are needed to load the CLI again. */
const LOADER_FLAGS = new Set(['--import', '--require', '-r', '--loader', '--experimental-loader']);

export function loaderArgs(execArgv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const arg = execArgv[i]!;
    const eq = arg.indexOf('=');
    if (eq > 0 && LOADER_FLAGS.has(arg.slice(0, eq))) out.push(arg);
    else if (LOADER_FLAGS.has(arg) && i + 1 < execArgv.length) out.push(arg, execArgv[++i]!);
  }
  return out;
}

export function currentCliCommand(proc: Pick<NodeJS.Process, 'execPath' | 'execArgv' | 'argv'> = process): string[] {
  const script = proc.argv[1];
  if (!script) throw new Error('cannot tell how switchboard was started (no script path in argv)');
  return [proc.execPath, ...loaderArgs(proc.execArgv), resolve(script)];
}

/** Nearest directory at or above `from` holding a package.json (the package root). */
export function packageRoot(from: string): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) return resolve(from);
    dir = parent;
  }
}
