/**
 * The A2A edge: third-party A2A agents send tasks into the org through the same router, policy
 * and Privacy Guard as internal agents, using @a2a-js/sdk's request handler.
 *   - A message becomes a routed mesh task: `metadata.target` names the role, person or agent
 *     (or `metadata.skills` routes by skill); the router's Cedar check and the redaction
 *     boundary (receiver's policy) apply unchanged, and the RouteEvent is audited.
 *   - The A2A task mirrors the mesh task: reading it (tasks/get) refreshes its state, and the
 *     receivers' messages and artifacts are masked under the CALLER's role policy on the way out.
 *   - tasks/cancel cancels the mesh task (the caller must be its sender).
 *   - The A2A task records live in the controller's database (task-store.ts), so get and cancel
 *     work after a restart and through any controller process of a shared database.
 * The caller authenticates with a controller token like any agent.
 */
import {
  DefaultRequestHandler,
  ServerCallContext,
  AgentEvent,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
  type TaskStore,
  type User,
} from '@a2a-js/sdk/server';
import { AgentCard, TaskState, Role, type Task, type Message, type Part } from '@a2a-js/sdk';
import type { VerifiedCaller } from '../auth/access-tokens.js';
import type { Kysely } from 'kysely';
import type { MeshServices } from '../mesh/services.js';
import type { ControllerTables } from '../storage/schema.js';
import { DbA2ATaskStore } from './task-store.js';
import type { ProfileCatalog } from '../profiles/catalog.js';
import { HttpError } from '../http-errors.js';
import { BlockedByGuardError } from '../mesh/redaction-boundary.js';
import type { TaskState as MeshTaskState, TaskStatus as MeshTaskStatus } from '../../mesh/contracts.js';

export const A2A_JSONRPC_PATH = '/a2a/jsonrpc';

/** The controller-authenticated caller, as the SDK's User. */
export class MeshUser implements User {
  constructor(readonly caller: VerifiedCaller) {}
  get isAuthenticated(): boolean {
    return true;
  }
  get userName(): string {
    return this.caller.subject;
  }
}

const STATE: Record<MeshTaskState, TaskState> = {
  submitted: TaskState.TASK_STATE_SUBMITTED,
  working: TaskState.TASK_STATE_WORKING,
  'input-required': TaskState.TASK_STATE_INPUT_REQUIRED,
  completed: TaskState.TASK_STATE_COMPLETED,
  failed: TaskState.TASK_STATE_FAILED,
  canceled: TaskState.TASK_STATE_CANCELED,
  rejected: TaskState.TASK_STATE_REJECTED,
};

const textPart = (text: string): Part => ({ content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: 'text/plain' }) as Part;

function agentMessage(taskId: string, contextId: string, text: string): Message {
  return { messageId: `msg-${taskId}-${Date.now()}`, contextId, taskId, role: Role.ROLE_AGENT, parts: [textPart(text)], metadata: undefined, extensions: [], referenceTaskIds: [] };
}

function callerOf(ctx: ServerCallContext): VerifiedCaller {
  const user = ctx.user;
  if (!(user instanceof MeshUser)) throw new HttpError(401, 'A2A calls need a controller bearer token');
  return user.caller;
}

/** Routes each A2A message as a mesh task and answers with the submitted task at once. */
class MeshEdgeExecutor implements AgentExecutor {
  constructor(private readonly mesh: MeshServices) {}

  async execute(rc: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const msg = rc.userMessage;
    const caller = callerOf(rc.context);
    const text = msg.parts.map((p) => (p.content?.$case === 'text' ? p.content.value : p.content?.$case === 'data' ? JSON.stringify(p.content.value) : '')).filter(Boolean).join('\n');
    const meta = (msg.metadata ?? {}) as { target?: unknown; skills?: unknown; context?: unknown };
    const base: Task = { id: rc.taskId, contextId: rc.contextId, status: undefined, artifacts: [], history: [msg], metadata: {} };
    const finish = (state: TaskState, why: string) => {
      bus.publish(AgentEvent.task({ ...base, status: { state, message: agentMessage(rc.taskId, rc.contextId, why), timestamp: new Date().toISOString() } }));
      bus.finished();
    };
    if (typeof meta.target !== 'string' && !Array.isArray(meta.skills)) {
      return finish(TaskState.TASK_STATE_REJECTED, 'say where this goes: set message.metadata.target to a role (e.g. "finance"), a person id or an agent id, or metadata.skills to a list of skills');
    }
    try {
      const routed = await this.mesh.router.route(caller, {
        ...(typeof meta.target === 'string' ? { target: meta.target } : {}),
        task: { title: text.split('\n')[0]!.slice(0, 200) || 'A2A task', text },
        ...(typeof meta.context === 'string' ? { context: meta.context } : {}),
        ...(Array.isArray(meta.skills) ? { policyHints: { skills: meta.skills.filter((s): s is string => typeof s === 'string') } } : {}),
        messageId: `a2a:${msg.messageId}`,
        contextId: `ctx-a2a-${rc.contextId}`.slice(0, 200),
      });
      bus.publish(
        AgentEvent.task({
          ...base,
          metadata: { meshTaskId: routed.taskId, targets: routed.targets.map((t) => t.agentId) },
          status: { state: TaskState.TASK_STATE_SUBMITTED, message: agentMessage(rc.taskId, rc.contextId, `routed to ${routed.targets.map((t) => `${t.agentId} (${t.role})`).join(', ')}`), timestamp: new Date().toISOString() },
        }),
      );
      bus.finished();
    } catch (err) {
      if (err instanceof HttpError) return finish(err.statusCode === 403 || err.statusCode === 422 ? TaskState.TASK_STATE_REJECTED : TaskState.TASK_STATE_FAILED, err.message);
      throw err;
    }
  }

  /** The canceled status this publishes is saved through the store, whose save cancels the mesh task (MeshMirrorTaskStore.save). */
  async cancelTask(taskId: string, bus: ExecutionEventBus): Promise<void> {
    bus.publish(AgentEvent.statusUpdate({ taskId, contextId: '', status: { state: TaskState.TASK_STATE_CANCELED, message: undefined, timestamp: new Date().toISOString() }, metadata: undefined }));
    bus.finished();
  }
}

/** Keeps the SDK's task records, refreshing each from its mesh task when read; output masked for the reader. */
class MeshMirrorTaskStore implements TaskStore {
  private readonly inner: DbA2ATaskStore;

  constructor(private readonly mesh: MeshServices, db: Kysely<ControllerTables>) {
    this.inner = new DbA2ATaskStore(db);
  }

  async save(task: Task, context: ServerCallContext): Promise<void> {
    // A cancel of a task whose execution already returned only reaches the store: cancel the mesh task here.
    const meshTaskId = task.metadata?.meshTaskId;
    if (task.status?.state === TaskState.TASK_STATE_CANCELED && typeof meshTaskId === 'string' && context.user instanceof MeshUser) {
      await this.mesh.router.cancel(context.user.caller, meshTaskId, false);
    }
    return this.inner.save(task, context);
  }

  async load(taskId: string, context: ServerCallContext): Promise<Task | undefined> {
    const task = await this.inner.load(taskId, context);
    const meshTaskId = task?.metadata?.meshTaskId;
    if (!task || typeof meshTaskId !== 'string' || !(context.user instanceof MeshUser)) return task;
    let status: MeshTaskStatus;
    try {
      status = await this.mesh.router.statusFor(context.user.caller, meshTaskId, false);
    } catch {
      return task;
    }
    const roles = context.user.caller.roles;
    const mask = (text: string) => {
      try {
        return this.mesh.boundary.maskFor(roles, text).text;
      } catch (err) {
        if (err instanceof BlockedByGuardError) return `(withheld: contains ${err.dataClass}, which your role policy blocks)`;
        throw err;
      }
    };
    const said = status.targets.filter((t) => t.message).map((t) => `${t.agentId}: ${mask(t.message!)}`).join('\n');
    const current = STATE[status.state];
    if (task.status?.state === TaskState.TASK_STATE_CANCELED) return task;
    const refreshed: Task = {
      ...task,
      status: { state: current, message: said ? agentMessage(task.id, task.contextId, said) : task.status?.message, timestamp: status.updatedAt },
      artifacts: status.targets.flatMap((t, i) =>
        t.artifacts.map((a, j) => ({
          artifactId: `${meshTaskId}-${i}-${j}`,
          name: a.name,
          description: `from ${t.agentId}`,
          parts: [textPart(mask(a.text ?? JSON.stringify(a.data ?? {})))],
          metadata: undefined,
          extensions: [],
        })),
      ),
    };
    await this.inner.save(refreshed, context);
    return refreshed;
  }

  list(params: Parameters<TaskStore['list']>[0], context: ServerCallContext): ReturnType<TaskStore['list']> {
    return this.inner.list(params, context);
  }
}

export function buildAgentCard(baseUrl: string, profiles: ProfileCatalog, version: string): AgentCard {
  return AgentCard.fromJSON({
    name: 'Switchboard org',
    description: 'Send a task to a role, person or agent of this organisation. Set message.metadata.target to a role id (see skills), a person id or an agent id. Policy and the Privacy Guard apply; tasks/get follows the task.',
    version,
    supportedInterfaces: [
      { url: `${baseUrl}${A2A_JSONRPC_PATH}`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' },
      { url: `${baseUrl}${A2A_JSONRPC_PATH}`, protocolBinding: 'JSONRPC', protocolVersion: '0.3' },
    ],
    capabilities: { streaming: true, pushNotifications: false },
    securitySchemes: { bearer: { httpAuthSecurityScheme: { scheme: 'bearer', bearerFormat: 'JWT', description: 'a Switchboard controller access token' } } },
    securityRequirements: [{ schemes: { bearer: { list: [] } } }],
    defaultInputModes: ['text/plain', 'application/json'],
    defaultOutputModes: ['text/plain'],
    skills: profiles.all().map((p) => ({
      id: p.role,
      name: p.displayName,
      description: `${p.description ?? p.displayName} (set metadata.target to "${p.role}")`,
      tags: (p.skills ?? []).map((s) => s.id),
      examples: [],
    })),
  });
}

export interface A2AEdge {
  handler: DefaultRequestHandler;
  card: AgentCard;
}

export function createA2AEdge(mesh: MeshServices, db: Kysely<ControllerTables>, profiles: ProfileCatalog, baseUrl: string, version: string): A2AEdge {
  const card = buildAgentCard(baseUrl, profiles, version);
  const handler = new DefaultRequestHandler(card, new MeshMirrorTaskStore(mesh, db), new MeshEdgeExecutor(mesh));
  return { handler, card };
}
