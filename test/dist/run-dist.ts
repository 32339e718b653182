/** Runs the built CLI (dist/bin/switchboard.js) as a child process, the way users run it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SOURCE_ROOTS } from '../../scripts/runtime-assets.mjs';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const DIST_CLI = join(REPO_ROOT, 'dist', 'bin', 'switchboard.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // NODE_ENV=test and tsx loaders belong to the test runner, not to what a user runs.
  const { NODE_OPTIONS: _o, NODE_ENV: _e, ...rest } = process.env;
  return { ...rest, ...extra };
}

export function runCli(args: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DIST_CLI, ...args], { cwd: REPO_ROOT, env: childEnv(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`switchboard ${args.join(' ')} did not finish in ${opts.timeoutMs ?? 30_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.stdin ?? '');
  });
}

export interface ServedCli {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Everything printed so far. */
  output(): string;
  /** SIGTERM and wait for exit; resolves to the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL: no shutdown code runs (a crash or power cut, as far as the process is concerned). */
  kill(): Promise<void>;
}

/** Starts a serving command and resolves once it logged "<something> listening" with its url. */
export function serveCli(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<ServedCli> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DIST_CLI, ...args], { cwd: REPO_ROOT, env: childEnv(opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let settled = false;
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const served: Omit<ServedCli, 'url'> = {
      pid: child.pid!,
      child,
      output: () => out,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
        return exited;
      },
      async kill() {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      },
    };
    const timer = setTimeout(() => {
      if (settled) return;
      settled = true;
      child.kill('SIGKILL');
      reject(new Error(`switchboard ${args.join(' ')} did not start listening in ${opts.timeoutMs ?? 30_000} ms\n${out}`));
    }, opts.timeoutMs ?? 30_000);
    const onData = (d: string) => {
      out += d;
      if (settled) return;
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const rec = JSON.parse(line) as { msg?: string; url?: string };
          if (rec.url && /listening/.test(rec.msg ?? '')) {
            settled = true;
            clearTimeout(timer);
            resolve({ ...served, url: rec.url });
            return;
          }
        } catch {
          // a partial line: wait for more
        }
      }
    };
    child.stdout.setEncoding('utf8').on('data', onData);
    child.stderr.setEncoding('utf8').on('data', onData);
    void exited.then((code) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(new Error(`switchboard ${args.join(' ')} exited with ${code} before listening\n${out}`));
    });
  });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    newest = Math.max(newest, st.isDirectory() ? newestMtime(p) : st.mtimeMs);
  }
  return newest;
}

/** dist/ must be built from the current sources (`npm test` runs `npm run build` first). */
export function assertDistFresh(): void {
  let built: number;
  try {
    built = statSync(DIST_CLI).mtimeMs;
  } catch {
    throw new Error(`${DIST_CLI} does not exist: run \`npm run build\` (npm test does)`);
  }
  const sources = Math.max(...SOURCE_ROOTS.map((r) => newestMtime(join(REPO_ROOT, r))));
  if (sources > built) throw new Error('dist/ is older than the sources: run `npm run build` (npm test does)');
}
