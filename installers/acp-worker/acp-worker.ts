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
import { setTimeout as delay } from 'node:timers/promises';
import { LeaseLostError, type ApprovalOutcome, type ResultState, type TaskSource, type WorkTask } from './task-source.js';

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
  /** No result was reported: the task was canceled, its lease lost, or the worker stopped. */
  abandoned?: boolean;
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

/** How often the lease is renewed when the controller did not say when it runs out. */
const DEFAULT_RENEW_MS = 20_000;

/**
 * Runs one task through a fresh agent process; reports progress and the result to the source.
 * While the task runs (also while it waits for an approval) the last progress is re-sent before
 * the lease runs out, so the controller does not hand the task to another worker. When the
 * controller says the task is no longer ours (canceled, or the lease was lost) or `stop` aborts,
 * the turn is cancelled (`session/cancel`; open permission requests answer `cancelled`) and no
 * result is reported — a stopped worker's task is delivered again after its lease.
 */
export async function runTaskWithAcp(task: WorkTask, opts: AcpWorkerOptions, stop?: AbortSignal): Promise<TaskRunOutcome> {
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
  /** Aborted when the turn ends, is cancelled, or the task is no longer ours. */
  const turn = new AbortController();
  let lost: LeaseLostError | undefined;
  let cancelTurn: (() => void) | undefined;
  const giveUp = (reason: string) => {
    if (turn.signal.aborted) return;
    log(`task ${task.taskId}: ${reason}; cancelling the agent's turn`);
    turn.abort();
    cancelTurn?.();
  };
  const onStop = () => giveUp('worker stopping');
  stop?.addEventListener('abort', onStop, { once: true });

  let last: { state: 'working' | 'input-required'; message: string } = { state: 'working', message: `started ${cmd}` };
  let waitingApprovals = 0;
  const report = async (state: 'working' | 'input-required', message: string) => {
    last = { state, message };
    try {
      await opts.source.progress(task, state, message);
    } catch (err) {
      if (err instanceof LeaseLostError) {
        lost = err;
        giveUp(err.message);
      } else log(`progress report failed: ${(err as Error).message}`);
    }
  };
  const renewEvery = task.leaseExpiresAt ? Math.max(500, Math.floor((task.leaseExpiresAt - Date.now()) / 3)) : DEFAULT_RENEW_MS;
  const renew = setInterval(() => void report(last.state, last.message), renewEvery);

  const answer = async (req: RequestPermissionRequest, signal: AbortSignal): Promise<RequestPermissionResponse> => {
    const toolCall = req.toolCall;
    const id = toolCall.toolCallId;
    const done = (option: PermissionOption | undefined): RequestPermissionResponse => {
      // Only ids the agent offered; with no fitting option the call is cancelled (fails closed).
      permissions.push(`${id}:${option?.kind ?? 'cancelled'}`);
      return option ? { outcome: { outcome: 'selected', optionId: option.optionId } } : { outcome: { outcome: 'cancelled' } };
    };
    const reject = () => done(pick(req.options, ['reject_once', 'reject_always']));
    if (turn.signal.aborted) return done(undefined);
    const decision = opts.policy.decide(toolCall);
    if (decision === 'allow') return done(pick(req.options, ['allow_once']));
    if (decision === 'deny') return reject();
    const title = toolCall.title ?? id;
    let approvalId: string;
    let outcome: ApprovalOutcome;
    waitingApprovals++;
    try {
      await report('input-required', `waiting for approval: ${title}`);
      try {
        ({ approvalId } = await opts.source.requestApproval(task, {
          stepId: `tool-${id}`,
          payload: { tool: title, kind: toolCall.kind ?? 'other', input: toolCall.rawInput ?? null },
          deadlineSeconds: opts.approvalDeadlineSeconds ?? 3600,
        }));
      } catch (err) {
        // No approval could be raised (e.g. no approver in the directory): fail closed.
        log(`approval for ${title} could not be requested: ${(err as Error).message}; rejecting`);
        return reject();
      }
      outcome = await opts.source.waitForApproval(approvalId, AbortSignal.any([signal, turn.signal])).catch((err: Error) => {
        log(`approval ${approvalId}: ${err.message}; rejecting`);
        return 'denied' as const;
      });
    } finally {
      waitingApprovals--;
    }
    if (signal.aborted || turn.signal.aborted) {
      // Nobody waits for this decision any more: take the request off the approver's list.
      if (outcome === 'withdrawn') opts.source.withdrawApproval?.(approvalId).catch((err: Error) => log(`withdrawing approval ${approvalId} failed: ${err.message}`));
      return done(undefined);
    }
    await report(waitingApprovals > 0 ? 'input-required' : 'working', `approval ${approvalId} ${outcome}: ${title}`);
    return outcome === 'approved' ? done(pick(req.options, ['allow_once'])) : reject();
  };

  const app = client({ name: 'switchboard-agent' })
    .onNotification(methods.client.session.update, async ({ params }) => {
      const u = params.update;
      if (u.sessionUpdate === 'agent_message_chunk' && u.content.type === 'text') text.push(u.content.text);
      const line = describeUpdate(params);
      if (line) await report(waitingApprovals > 0 ? 'input-required' : 'working', line);
    })
    .onRequest(methods.client.session.requestPermission, ({ params, signal }) => answer(params, signal));

  opts.source.setLoad?.(1);
  try {
    await spawned;
    const stream = ndJsonStream(Writable.toWeb(child.stdin!) as WritableStream<Uint8Array>, Readable.toWeb(child.stdout!) as ReadableStream<Uint8Array>);
    const stopReason = await app.connectWith(stream, async (ctx) => {
      await ctx.request(methods.agent.initialize, { protocolVersion: PROTOCOL_VERSION, clientCapabilities: {} });
      const { sessionId } = await ctx.request(methods.agent.session.new, { cwd: opts.cwd, mcpServers: [] });
      cancelTurn = () => void ctx.notify(methods.agent.session.cancel, { sessionId }).catch(() => {});
      if (turn.signal.aborted) return 'cancelled' as const;
      await report('working', `started ${cmd} session ${sessionId}`);
      const prompt = [task.title, task.text, task.context ? `Context shared with you:\n${task.context}` : ''].filter(Boolean).join('\n\n');
      const res = await ctx.request(methods.agent.session.prompt, { sessionId, prompt: [{ type: 'text', text: prompt }] });
      return res.stopReason;
    });
    const body = text.join('');
    if (lost || stop?.aborted) {
      // Not ours any more (or we are stopping): the controller decides what happens to the task.
      return { state: 'failed', stopReason, text: body, permissions, abandoned: true };
    }
    const state = stateFor(stopReason);
    await opts.source.result(task, state, `${cmd} finished: ${stopReason}`, body ? [{ name: 'answer', text: body }] : []);
    return { state, stopReason, text: body, permissions };
  } catch (err) {
    const message = err instanceof LeaseLostError ? err.message : `ACP agent failed: ${(err as Error).message}`;
    log(message);
    if (err instanceof LeaseLostError || lost || stop?.aborted) return { state: 'failed', text: text.join(''), permissions, abandoned: true };
    await opts.source.result(task, 'failed', message, []).catch((e: Error) => log(`result report failed: ${e.message}`));
    return { state: 'failed', text: text.join(''), permissions };
  } finally {
    clearInterval(renew);
    stop?.removeEventListener('abort', onStop);
    opts.source.setLoad?.(0);
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
      if (signal.aborted) return;
      log(`could not fetch work: ${(err as Error).message}; retrying in 5 s`);
      await delay(5000, undefined, { signal }).catch(() => {});
      continue;
    }
    for (const task of tasks) {
      if (signal.aborted) return;
      log(`task ${task.taskId}: ${task.title}${task.attempt > 1 ? ` (attempt ${task.attempt})` : ''}`);
      const outcome = await runTaskWithAcp(task, opts, signal);
      log(`task ${task.taskId}: ${outcome.abandoned ? 'left to the controller' : outcome.state}`);
    }
  }
}
