/**
 * `switchboard models local list|pull`: the local fallback model is real only if Ollama holds it.
 * Talks to Ollama with its own npm client (`ollama`); `pull` shows a progress bar (cli-progress)
 * on a terminal and plain percentage lines otherwise. `doctor` uses `ollamaStatus` too.
 */
import type { Command } from 'commander';
import { Ollama, type ProgressResponse } from 'ollama';
import cliProgress from 'cli-progress';
import { addDataDirOption, CliError, loadContext, parseUrl, type CommonOptions } from '../cli-support.js';
import type { GatewayConfig } from '../../gateway/config.js';

/** Small enough for a laptop, good enough to keep an agent going while the cloud is away. */
export const DEFAULT_LOCAL_MODEL = 'llama3.2:3b';
export const DEFAULT_OLLAMA_HOST = 'http://127.0.0.1:11434';

export interface LocalModelTarget {
  host: string;
  model: string;
}

/** Where Ollama is and which model is the fallback: the config's ollama upstream, else OLLAMA_HOST, else defaults. */
export function localModelTarget(gateway: GatewayConfig, env: NodeJS.ProcessEnv = process.env, flags: { ollamaHost?: string; model?: string } = {}): LocalModelTarget {
  const upstream = gateway.upstreams.find((u) => u.kind === 'ollama');
  const fromConfig = upstream?.baseUrl.replace(/\/v1\/?$/, '').replace(/\/+$/, '');
  const rawHost = flags.ollamaHost ?? fromConfig ?? env.OLLAMA_HOST ?? DEFAULT_OLLAMA_HOST;
  const host = parseUrl('--ollama-host', /^https?:\/\//.test(rawHost) ? rawHost : `http://${rawHost}`);
  return { host, model: flags.model ?? upstream?.fallbackModel ?? DEFAULT_LOCAL_MODEL };
}

/** Ollama names a model `name:tag`; a bare name means `:latest`. */
export function sameModel(a: string, b: string): boolean {
  const norm = (m: string) => (m.includes(':') ? m : `${m}:latest`);
  return norm(a) === norm(b);
}

export interface OllamaStatus {
  running: boolean;
  version?: string;
  models: Array<{ name: string; sizeBytes: number }>;
  fallbackPresent: boolean;
  error?: string;
}

export async function ollamaStatus(target: LocalModelTarget, timeoutMs = 3000): Promise<OllamaStatus> {
  const client = new Ollama({ host: target.host, fetch: (input, init) => fetch(input, { ...init, signal: AbortSignal.timeout(timeoutMs) }) });
  try {
    const [{ version }, { models }] = await Promise.all([client.version(), client.list()]);
    const list = models.map((m) => ({ name: m.name, sizeBytes: m.size }));
    return { running: true, version, models: list, fallbackPresent: list.some((m) => sameModel(m.name, target.model)) };
  } catch (err) {
    return { running: false, models: [], fallbackPresent: false, error: (err as Error).message };
  }
}

const gb = (bytes: number) => `${(bytes / 1e9).toFixed(2)} GB`;

/** Pulls `model`, reporting progress; resolves when Ollama says success. */
export async function pullLocalModel(target: LocalModelTarget, out: NodeJS.WriteStream | { isTTY?: boolean; write(s: string): boolean }): Promise<void> {
  const client = new Ollama({ host: target.host });
  let stream: AsyncIterable<ProgressResponse>;
  try {
    stream = await client.pull({ model: target.model, stream: true });
  } catch (err) {
    throw new CliError(`cannot pull ${target.model} from Ollama at ${target.host}: ${(err as Error).message} (is \`ollama serve\` running?)`);
  }
  const bar = out.isTTY ? new cliProgress.SingleBar({ format: '{status} [{bar}] {percentage}% {done}/{size}', hideCursor: true, stream: out as NodeJS.WriteStream }, cliProgress.Presets.shades_classic) : undefined;
  let started = false;
  let lastLine = '';
  try {
    for await (const p of stream) {
      if (p.total && p.total > 0) {
        const completed = p.completed ?? 0;
        const payload = { status: p.status, done: gb(completed), size: gb(p.total) };
        if (bar) {
          if (!started) bar.start(p.total, completed, payload);
          else bar.setTotal(p.total);
          bar.update(completed, payload);
          started = true;
        } else {
          const line = `${p.status} ${Math.floor((completed / p.total) * 100)}%`;
          if (line !== lastLine) out.write(`${line}\n`);
          lastLine = line;
        }
      } else if (p.status !== lastLine) {
        if (bar && started) bar.update({ status: p.status });
        else out.write(`${p.status}\n`);
        lastLine = p.status;
      }
    }
  } catch (err) {
    throw new CliError(`pulling ${target.model} failed: ${(err as Error).message}`);
  } finally {
    bar?.stop();
  }
}

interface LocalFlags extends CommonOptions {
  ollamaHost?: string;
  model?: string;
  json?: boolean;
}

export function registerLocalModelCommands(models: Command): void {
  const local = models.command('local').description('Local models in Ollama: the fallback used when the cloud upstream is down');
  addDataDirOption(
    local
      .command('list')
      .description('List the models Ollama holds and whether the fallback model is among them')
      .option('--ollama-host <url>', `Ollama address (default: the ollama upstream in the config, else $OLLAMA_HOST, else ${DEFAULT_OLLAMA_HOST})`)
      .option('--json', 'print JSON'),
  ).action(async (flags: LocalFlags) => {
    const { config } = loadContext(flags);
    const target = localModelTarget(config.gateway, process.env, flags);
    const status = await ollamaStatus(target);
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ host: target.host, fallbackModel: target.model, ...status }, null, 2)}\n`);
      return;
    }
    if (!status.running) throw new CliError(`Ollama is not reachable at ${target.host} (${status.error}); start it with \`ollama serve\` or pass --ollama-host`);
    const lines = [`Ollama ${status.version ?? ''} at ${target.host}`.trim()];
    for (const m of status.models) lines.push(`  ${m.name.padEnd(40)} ${gb(m.sizeBytes).padStart(10)}${sameModel(m.name, target.model) ? '   (fallback)' : ''}`);
    if (status.models.length === 0) lines.push('  (no models)');
    if (!status.fallbackPresent) lines.push(`Fallback model ${target.model} is missing: switchboard models local pull`);
    process.stdout.write(`${lines.join('\n')}\n`);
  });

  addDataDirOption(
    local
      .command('pull')
      .description('Pull the fallback model (or --model) into Ollama, with a progress bar')
      .option('--model <name>', `model to pull (default: the fallback model, ${DEFAULT_LOCAL_MODEL} unless configured)`)
      .option('--ollama-host <url>', `Ollama address (default: the ollama upstream in the config, else $OLLAMA_HOST, else ${DEFAULT_OLLAMA_HOST})`),
  ).action(async (flags: LocalFlags) => {
    const { config } = loadContext(flags);
    if (flags.model !== undefined && !/^[\w.:/-]{1,200}$/.test(flags.model)) throw new CliError(`--model must be an Ollama model name like "${DEFAULT_LOCAL_MODEL}" (got "${flags.model}")`);
    const target = localModelTarget(config.gateway, process.env, flags);
    await pullLocalModel(target, process.stderr);
    process.stdout.write(`pulled ${target.model} into Ollama at ${target.host}\n`);
  });
}
