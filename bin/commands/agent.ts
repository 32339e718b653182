/**
 * `switchboard agent [--acp-command "goose acp"]`: the ACP task worker. Registers this agent with
 * the controller's Agent Mesh, takes the tasks the router assigns to it, and runs each through an
 * ACP agent process (installers/acp-worker/). Authenticates with this machine's enrolment.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { Command } from 'commander';
import { addDataDirOption, CliError, loadContext, parseUrl, type CommonOptions } from '../cli-support.js';
import { EnrolledTokenProvider } from '../../gateway/bundles/enrolled-token.js';
import { readEnrolment } from '../../installers/goose/extensions.js';
import { DEFAULT_ALLOWED_KINDS, kindPolicy, runWorker } from '../../installers/acp-worker/acp-worker.js';
import { MeshTaskSource } from '../../installers/acp-worker/task-source.js';
import { MeshClient } from '../../mesh/client.js';

const TOOL_KINDS = ['read', 'edit', 'delete', 'move', 'search', 'execute', 'think', 'fetch', 'switch_mode', 'other'];

export interface AgentFlags extends CommonOptions {
  acpCommand: string;
  agentId?: string;
  role?: string;
  controllerUrl?: string;
  cwd?: string;
  allowKinds: string;
  denyKinds: string;
  skills?: string;
  approver?: string;
}

/** "goose acp" → ['goose', 'acp']; double or single quotes group words. */
export function splitCommand(line: string): string[] {
  const parts = [...line.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
  if (parts.length === 0) throw new CliError('--acp-command must name a program, e.g. "goose acp"');
  return parts;
}

/** Whether `program` can be started: a path that exists, or a name found on PATH. */
export function commandExists(program: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const executable = (file: string) => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  };
  if (program.includes('/') || program.includes('\\')) return executable(program);
  const exts = process.platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  return (env.PATH ?? '').split(delimiter).filter(Boolean).some((dir) => exts.some((ext) => executable(join(dir, program + ext))));
}

function kinds(flag: string, value: string): string[] {
  const list = value.split(',').map((k) => k.trim()).filter(Boolean);
  const bad = list.find((k) => !TOOL_KINDS.includes(k));
  if (bad) throw new CliError(`${flag}: "${bad}" is not an ACP tool kind (${TOOL_KINDS.join(', ')})`);
  return list;
}

export interface RunningAgent {
  agentId: string;
  role: string;
  controllerUrl: string;
  /** Resolves when the worker has stopped (after `stop()`, or a signal in the CLI). */
  done: Promise<void>;
  stop(): Promise<void>;
}

/** Registers the agent and starts taking work; the CLI action and the tests both call this. */
export async function startAgent(flags: AgentFlags, log: (line: string) => void = () => {}, timing: { waitMs?: number; approvalPollMs?: number } = {}): Promise<RunningAgent> {
  const { dataDir, config } = loadContext(flags);
  const command = splitCommand(flags.acpCommand);
  const policy = kindPolicy(kinds('--allow-kinds', flags.allowKinds), kinds('--deny-kinds', flags.denyKinds));
  const approver = flags.approver ?? 'manager';
  if (!/^(role:)?[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/.test(approver)) throw new CliError(`--approver must be "manager", a person id or role:<role> (got "${approver}")`);
  const skills = (flags.skills ?? '').split(',').map((k) => k.trim()).filter(Boolean);
  const enrolment = readEnrolment(dataDir.root);
  if (!enrolment?.subject) throw new CliError('this machine is not enrolled with a controller: run `switchboard up` or `switchboard enrol --controller URL --code CODE`');
  const controllerUrl = flags.controllerUrl ? parseUrl('--controller-url', flags.controllerUrl) : (config.controller?.url ?? enrolment.controllerUrl);
  if (!controllerUrl) throw new CliError('no controller URL: pass --controller-url');
  const role = flags.role ?? enrolment.roles?.[0];
  if (!role || !(enrolment.roles ?? []).includes(role)) throw new CliError(`--role must be one of the enrolled roles (${(enrolment.roles ?? []).join(', ')})`);
  if (!commandExists(command[0]!)) {
    throw new CliError(`cannot run the ACP agent "${command[0]}": not found${command[0]!.includes('/') ? '' : ' on PATH'}. Install Goose (its \`goose acp\` speaks ACP) or pass --acp-command "<program> <args>"`);
  }
  const agentId = flags.agentId ?? `${enrolment.subject.replace(/[^A-Za-z0-9_.-]/g, '-')}-goose`;
  const tokens = new EnrolledTokenProvider(dataDir.root, controllerUrl);
  const client = new MeshClient({ url: controllerUrl, token: () => tokens.token() });
  const source = new MeshTaskSource({ client, agentId, role, skills, approver, log, ...timing });
  try {
    await source.start();
  } catch (err) {
    throw new CliError(`cannot register agent ${agentId} with ${controllerUrl}: ${(err as Error).message}`);
  }
  log(`registered as ${role} with ${controllerUrl}; running tasks with "${flags.acpCommand}"`);
  const stopping = new AbortController();
  const done = runWorker({ command, cwd: flags.cwd ?? process.cwd(), source, policy, log }, stopping.signal).finally(() => source.stop());
  return {
    agentId,
    role,
    controllerUrl,
    done,
    async stop() {
      stopping.abort();
      await done;
    },
  };
}

export function registerAgentCommand(program: Command): void {
  addDataDirOption(
    program
      .command('agent')
      .description('Run the ACP task worker: take tasks routed to this agent and run them through an ACP agent (goose acp)')
      .option('--acp-command <command>', 'the ACP agent to run per task', 'goose acp')
      .option('--agent-id <id>', 'agent id in the mesh (default <enrolled subject>-goose)')
      .option('--role <role>', 'role to register under (default: the enrolled role)')
      .option('--skills <list>', 'comma-separated skills the router may match (e.g. invoice-review,payment-run)')
      .option('--controller-url <url>', 'controller (default: controller.url, else the enrolment)')
      .option('--cwd <dir>', 'working directory for the agent sessions', process.cwd())
      .option('--allow-kinds <kinds>', 'tool kinds allowed without asking (others need an approval)', DEFAULT_ALLOWED_KINDS.join(','))
      .option('--deny-kinds <kinds>', 'tool kinds always refused', '')
      .option('--approver <who>', 'who approves the other tool calls: manager, a person id, or role:<role>', 'manager'),
  )
    .addHelpText('after', `
Permission requests: allowed kinds → allow once; denied kinds → reject; anything else raises an
approval with the controller (the task shows input-required) and waits for it; denied or expired
→ reject. "Allow always" is never chosen. Tool kinds: ${TOOL_KINDS.join(', ')}.
Enrol first: \`switchboard up\` (local org) or \`switchboard enrol --controller URL --code CODE\`.
Ctrl-C stops taking work; a task in progress is cancelled and delivered again after its lease.

Example (a second terminal next to \`switchboard up\`):
  switchboard agent --acp-command "goose acp" --skills invoice-review`)
    .action(async (flags: AgentFlags) => {
      const log = (line: string) => process.stderr.write(`[agent] ${line}\n`);
      const agent = await startAgent(flags, log);
      const stop = () => void agent.stop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      try {
        await agent.done;
      } finally {
        process.removeListener('SIGINT', stop);
        process.removeListener('SIGTERM', stop);
      }
    });
}
