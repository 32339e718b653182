/**
 * Starts one benchmark server (bench/support/server-process.ts) in its own process and talks to it
 * over IPC: its URL and token when ready, CPU-time probes, stop. Servers run apart from the load
 * generator so it does not steal their event loop — as Goose and the gateway are separate
 * processes in real use. Used by bench:overhead and bench:goose-session --processes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ChildMessage, ServerRole } from './protocol.js';
import type { GatewayBuild } from './gateway-build.js';

export interface ServerProcess {
  role: ServerRole;
  url: string;
  token?: string;
  stages?: string[];
  child: ChildProcess;
  /** CPU time (user + system) used so far, in microseconds. */
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

const serverEntry = fileURLToPath(new URL('./server-process.ts', import.meta.url));

/** `build`: the gateway's sources (under tsx) or the built package in dist/ (see gateway-build.ts). */
export async function startServer(role: ServerRole, upstreamUrl?: string, profileDir?: string, without: string[] = [], build: GatewayBuild = 'sources'): Promise<ServerProcess> {
  const args = upstreamUrl ? [role, upstreamUrl, without.join(','), build] : [role];
  const child = fork(serverEntry, args, {
    execArgv: ['--import', 'tsx', ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let seq = 0;
  const pending = new Map<number, (micros: number) => void>();
  const ready = await new Promise<Extract<ChildMessage, { type: 'ready' }>>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${role} server exited with code ${code} before it was ready`)));
    child.on('message', (message: ChildMessage) => {
      if (message.type === 'ready') resolve(message);
      else if (message.type === 'failed') reject(new Error(`${role} server failed: ${message.message}`));
      else if (message.type === 'cpu') {
        pending.get(message.seq)?.(message.userMicros + message.systemMicros);
        pending.delete(message.seq);
      }
    });
  });
  child.removeAllListeners('exit');
  return {
    role,
    url: ready.url,
    ...(ready.token ? { token: ready.token } : {}),
    ...(ready.stages ? { stages: ready.stages } : {}),
    child,
    cpuMicros: () =>
      new Promise((resolve) => {
        const id = ++seq;
        pending.set(id, resolve);
        child.send({ type: 'cpu', seq: id });
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.send({ type: 'stop' });
      }),
  };
}
