/**
 * The ACP task worker: runs each task the router assigns to this agent through an Agent Client
 * Protocol agent process (`goose acp` by default) with @agentclientprotocol/sdk, as its client:
 * initialize → session/new → session/prompt, streaming session/update back as progress.
 *
 * Permission requests are answered per policy (controller-notes.md §2.3): allow → `allow_once`,
 * deny → `reject_once`, ask → the task goes `input-required`, an approval is raised with the
 * controller, and the JSON-RPC request stays open until it is decided (expiry or denial →
 * `reject_once`). Each request is handled on its own, so several outstanding requests never wait
 * on one another (claude-agent-acp#851). Headless, the worker never picks `allow_always`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { client, methods, ndJsonStream, PROTOCOL_VERSION, type PermissionOption, type RequestPermissionRequest, type RequestPermissionResponse, type SessionNotification, type StopReason, type ToolKind } from '@agentclientprotocol/sdk';
import type { ResultState, TaskSource, WorkTask } from './task-source.js';

export type PermissionDecision = 'allow' | 'deny' | 'ask';

export interface PermissionPolicy {
  decide(toolCall: RequestPermissionRequest['toolCall']): PermissionDecision;
}

/** Reading and thinking run; anything that changes or runs something needs a person's approval. */
export const DEFAULT_ALLOWED_KINDS: readonly ToolKind[] = ['read', 'search', 'think', 'fetch'];

export function kindPolicy(allow: readonly string[] = DEFAULT_ALLOWED_KINDS, deny: readonly string[] = []): PermissionPolicy {
  return {
    decide(toolCall) {
      const kind = toolCall.kind ?? 'other';
      if (deny.includes(kind)) return 'deny';
      if (allow.includes(kind)) return 'allow';
      return 'ask';
    },
  };
}

export interface AcpWorkerOptions {
  /** argv of the ACP agent, e.g. ['goose', 'acp']. */
  command: string[];
  cwd: string;
  env?: NodeJS.ProcessEnv;
  source: TaskSource;
  policy: PermissionPolicy;
  /** Deadline for approvals the worker raises. */
  approvalDeadlineSeconds?: number;
  log?: (line: string) => void;
}

export interface TaskRunOutcome {
  state: ResultState;
  stopReason?: StopReason;
  text: string;
  /** Permission answers given, in order of answering: `<toolCallId>:<optionKind|cancelled>`. */
  permissions: string[];
}

function pick(options: readonly PermissionOption[], kinds: PermissionOption['kind'][]): PermissionOption | undefined {
  for (const kind of kinds) {
    const found = options.find((o) => o.kind === kind);
    if (found) return found;
  }
  return undefined;
}

function stateFor(stop: StopReason): ResultState {
  if (stop === 'end_turn') return 'completed';
  if (stop === 'refusal') return 'rejected';
  return 'failed';
}

function describeUpdate(n: SessionNotification): string | undefined {
  const u = n.update;
  if (u.sessionUpdate === 'tool_call') return `tool: ${u.title}${u.kind ? ` (${u.kind})` : ''}`;
  if (u.sessionUpdate === 'tool_call_update' && u.status) return `tool ${u.toolCallId}: ${u.status}`;
  if (u.sessionUpdate === 'plan') return `plan: ${u.entries.map((e) => e.content).join('; ')}`;
  return undefined;
}

/** Runs one task through a fresh agent process; reports progress and the result to the source. */
export async function runTaskWithAcp(task: WorkTask, opts: AcpWorkerOptions): Promise<TaskRunOutcome> {
  const log = opts.log ?? (() => {});
  const [cmd, ...args] = opts.command;
  if (!cmd) throw new Error('no ACP agent command');
  const child: ChildProcess = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'inherit'] });
  const spawned = new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  // A command that cannot start emits 'error' and never 'exit'.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const text: string[] = [];
  const permissions: string[] = [];
  const turn = new AbortController();
  const report = (state: 'working' | 'input-required', message: string) =>
    opts.source.progress(task, state, message).catch((err: Error) => log(`progress report failed: ${err.message}`));

  const answer = async (req: RequestPermissionRequest, signal: AbortSignal): Promise<RequestPermissionResponse> => {
    const toolCall = req.toolCall;
    const id = toolCall.toolCallId;
    const done = (option: PermissionOption | undefined): RequestPermissionResponse => {
      // Only ids the agent offered; with no fitting option the call is cancelled (fails closed).
      permissions.push(`${id}:${option?.kind ?? 'cancelled'}`);
      return option ? { outcome: { outcome: 'selected', optionId: option.optionId } } : { outcome: { outcome: 'cancelled' } };
    };
    const decision = opts.policy.decide(toolCall);
    if (decision === 'allow') return done(pick(req.options, ['allow_once']));
    if (decision === 'deny') return done(pick(req.options, ['reject_once', 'reject_always']));
    const title = toolCall.title ?? id;
    await report('input-required', `waiting for approval: ${title}`);
    const { approvalId } = await opts.source.requestApproval(task, {
      stepId: `tool-${id}`,
      payload: { tool: title, kind: toolCall.kind ?? 'other', input: toolCall.rawInput ?? null },
      deadlineSeconds: opts.approvalDeadlineSeconds ?? 3600,
    });
    const outcome = await opts.source.waitForApproval(approvalId, AbortSignal.any([signal, turn.signal]));
    if (signal.aborted || turn.signal.aborted) return done(undefined);
    await report('working', `approval ${approvalId} ${outcome}: ${title}`);
    return done(outcome === 'approved' ? pick(req.options, ['allow_once']) : pick(req.options, ['reject_once', 'reject_always']));
  };

  const app = client({ name: 'switchboard-agent' })
    .onNotification(methods.client.session.update, async ({ params }) => {
      const u = params.update;
      if (u.sessionUpdate === 'agent_message_chunk' && u.content.type === 'text') text.push(u.content.text);
      const line = describeUpdate(params);
      if (line) await report('working', line);
    })
    .onRequest(methods.client.session.requestPermission, ({ params, signal }) => answer(params, signal));

  try {
    await spawned;
    const stream = ndJsonStream(Writable.toWeb(child.stdin!) as WritableStream<Uint8Array>, Readable.toWeb(child.stdout!) as ReadableStream<Uint8Array>);
    const stopReason = await app.connectWith(stream, async (ctx) => {
      await ctx.request(methods.agent.initialize, { protocolVersion: PROTOCOL_VERSION, clientCapabilities: {} });
      const { sessionId } = await ctx.request(methods.agent.session.new, { cwd: opts.cwd, mcpServers: [] });
      await report('working', `started ${cmd} session ${sessionId}`);
      const prompt = [task.title, task.text, task.context ? `Context shared with you:\n${task.context}` : ''].filter(Boolean).join('\n\n');
      const res = await ctx.request(methods.agent.session.prompt, { sessionId, prompt: [{ type: 'text', text: prompt }] });
      return res.stopReason;
    });
    const state = stateFor(stopReason);
    const body = text.join('');
    await opts.source.result(task, state, `${cmd} finished: ${stopReason}`, body ? [{ name: 'answer', text: body }] : []);
    return { state, stopReason, text: body, permissions };
  } catch (err) {
    const message = `ACP agent failed: ${(err as Error).message}`;
    log(message);
    await opts.source.result(task, 'failed', message, []).catch((e: Error) => log(`result report failed: ${e.message}`));
    return { state: 'failed', text: text.join(''), permissions };
  } finally {
    turn.abort();
    if (child.exitCode === null) child.kill('SIGTERM');
    await exited;
  }
}

/** Takes tasks from the source one at a time until `signal` aborts. */
export async function runWorker(opts: AcpWorkerOptions, signal: AbortSignal): Promise<void> {
  const log = opts.log ?? (() => {});
  while (!signal.aborted) {
    let tasks: WorkTask[];
    try {
      tasks = await opts.source.next(signal);
    } catch (err) {
      log(`could not fetch work: ${(err as Error).message}; retrying in 5 s`);
      await new Promise((r) => setTimeout(r, 5000));
      continue;
    }
    for (const task of tasks) {
      if (signal.aborted) return;
      log(`task ${task.taskId}: ${task.title}`);
      const outcome = await runTaskWithAcp(task, opts);
      log(`task ${task.taskId}: ${outcome.state}`);
    }
  }
}
