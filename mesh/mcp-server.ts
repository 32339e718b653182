/**
 * The Agent Mesh as MCP tools (official MCP SDK) for an agent such as Goose:
 *   send_task(target, task, context?, policyHints?)                    → taskId
 *   request_approval(target, sessionId?, stepId, payload, deadline?)    → approvalId (pending, at once)
 *   notify(target, message, severity?)                                  → ack
 *   fetch_status(id)                                                    → status of a task, session or approval
 * The tools are listed even when the controller is unknown or unreachable; a call then says
 * what is missing (controller URL, token) and how to fix it. Descriptions and errors are written
 * for a model to act on. Tool-level failures are `isError` results; stdout carries only the
 * protocol (stdio), so nothing here logs.
 */
import { randomUUID } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { MeshClientError, type MeshClient } from './client.js';
import { ID_PREFIX, SEVERITIES, type MeshStatus } from './contracts.js';

/** The mesh cannot be used yet (no controller URL, no token); the message says how to fix it. */
export class MeshSetupError extends Error {
  override name = 'MeshSetupError';
}

export interface MeshMcpDeps {
  /** Returns a client, or throws MeshSetupError explaining what is missing. Called per tool call. */
  client(): MeshClient | Promise<MeshClient>;
  /** This agent's id at the controller (the sender of tasks), if registered. */
  agentId?: string;
  version: string;
}

const target = z
  .string()
  .min(1)
  .max(200)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]*$/, 'a role name, person id or agent id (letters, digits, . _ : @ -)')
  .describe('Who should get this: a role name such as "finance", a person id from the org directory such as "ana", or an agent id');

const policyHints = z
  .object({
    skills: z.array(z.string()).max(20).optional().describe('Skills the receiving agent should have, e.g. ["invoice-review"]'),
    locale: z.string().optional().describe('Preferred language/region of the receiver, e.g. "de-DE"'),
    fanout: z.number().int().min(1).max(50).optional().describe('Send to this many agents of the target at once (default 1)'),
    role: z.string().optional().describe('Only agents of this role'),
    dataClass: z.string().regex(/^[A-Z][A-Z0-9_]*$/).optional().describe('Data class the context carries (e.g. "EMAIL"), checked by policy'),
  })
  .strict();

function ok(data: Record<string, unknown>, summary: string): CallToolResult {
  return { content: [{ type: 'text', text: `${summary}\n${JSON.stringify(data)}` }], structuredContent: data };
}

function fail(message: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: message }] };
}

/** Turns any failure into a message a model can act on. */
function explain(tool: string, err: unknown): CallToolResult {
  if (err instanceof MeshSetupError) return fail(`${tool} cannot run yet: ${err.message}`);
  if (err instanceof MeshClientError) {
    if (err.status === 0) return fail(`${tool} failed: ${err.message}. The controller may be down; tell the user, or try again in a minute.`);
    if (err.status === 401) return fail(`${tool} failed: the controller did not accept this agent's token (${err.message}). Ask the user to enrol again: switchboard enrol --controller <url> --code <code>.`);
    if (err.status === 403) return fail(`${tool} was refused by policy or permissions: ${err.message}. Do not retry the same call; tell the user what was refused.`);
    if (err.status === 404) return fail(`${tool} failed: ${err.message}. Check the target or id and try again.`);
    if (err.status === 422) return fail(`${tool} was refused: ${err.message}.`);
    if (err.status === 400) return fail(`${tool} got invalid arguments: ${err.message}. Fix the arguments and call again.`);
    return fail(`${tool} failed (HTTP ${err.status}): ${err.message}`);
  }
  return fail(`${tool} failed unexpectedly: ${(err as Error).message}`);
}

/** "2026-12-01T15:00:00Z", "30m", "2h", "1d" or "90" (seconds) → the approval API's deadline fields. */
export function parseDeadline(input: string): { deadline: string } | { deadlineSeconds: number } | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([smhd]?)$/.exec(input.trim());
  if (m) return { deadlineSeconds: Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'] };
  const t = Date.parse(input);
  return Number.isNaN(t) ? undefined : { deadline: new Date(t).toISOString() };
}

export function summariseStatus(s: MeshStatus): string {
  if (s.kind === 'task') return `Task ${s.id} is ${s.state}.${s.targets.map((t) => ` ${t.agentId} (${t.role}): ${t.state}${t.message ? ` — ${t.message}` : ''}.`).join('')}`;
  if (s.kind === 'approval') {
    const next = s.state === 'requested' ? ` Waiting for ${s.approver} until ${s.deadline}.` : s.decidedBy ? ` Decided by ${s.decidedBy}.` : '';
    return `Approval ${s.id} (step ${s.stepId}) is ${s.state}.${next}`;
  }
  return `Session ${s.id} is ${s.state}: ${s.tasks.length} task(s), ${s.approvals.length} approval(s).`;
}

export function createMeshMcpServer(deps: MeshMcpDeps): McpServer {
  const server = new McpServer({ name: 'switchboard-agent-mesh', version: deps.version });

  server.registerTool(
    'send_task',
    {
      title: 'Send a task to another role',
      description:
        'Hands a piece of work to another person\'s or role\'s agent in your organisation (for example ask "finance" to check an invoice). ' +
        'Returns at once with a taskId; the work happens asynchronously — call fetch_status with the taskId later to get the result. ' +
        'Put the instruction in "task" and any background the receiver needs in "context". Personal data in the context is masked according to the receiver\'s policy before it leaves, so you need not remove it yourself; data the receiver may never see (e.g. bank numbers for some roles) makes the call fail with the data class named. ' +
        'Pass the same messageId when retrying, so the task is not sent twice.',
      inputSchema: {
        target,
        task: z.string().min(1).max(100_000).describe('What the receiver should do, as an instruction. The first line becomes its title.'),
        context: z.string().max(200_000).optional().describe('Background the receiver needs (facts, excerpts, numbers)'),
        policyHints: policyHints.optional().describe('Optional routing hints: skills, locale, fanout'),
        sessionId: z.string().optional().describe('Session (ctx-…) this task belongs to, from an earlier send_task or request_approval'),
        messageId: z.string().max(200).optional().describe('Your retry key: the same messageId returns the earlier task instead of sending a new one'),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    },
    async (args) => {
      try {
        const client = await deps.client();
        const title = args.task.split('\n')[0]!.slice(0, 200);
        const r = await client.route({
          target: args.target,
          task: { title, text: args.task },
          ...(args.context !== undefined ? { context: args.context } : {}),
          ...(args.policyHints ? { policyHints: args.policyHints } : {}),
          ...(args.sessionId ? { contextId: args.sessionId } : {}),
          messageId: args.messageId ?? randomUUID(),
          ...(deps.agentId ? { fromAgent: deps.agentId } : {}),
        });
        const offline = r.targets.filter((t) => !t.online).map((t) => t.agentId);
        return ok(
          { taskId: r.taskId, sessionId: r.contextId, state: r.state, targets: r.targets.map((t) => ({ agentId: t.agentId, person: t.person, role: t.role, online: t.online })) },
          `Task ${r.taskId} sent to ${r.targets.map((t) => `${t.agentId} (${t.role})`).join(', ')}.${offline.length ? ` ${offline.join(', ')} is offline; the task waits in its queue.` : ''} Use fetch_status with this taskId to follow it.`,
        );
      } catch (err) {
        return explain('send_task', err);
      }
    },
  );

  server.registerTool(
    'request_approval',
    {
      title: 'Ask for an approval',
      description:
        'Asks a person in your organisation to approve something (a budget, a payment, a release) and returns at once with an approvalId — it never waits for the decision. ' +
        'The approver is found from the org chart: give a role (e.g. "finance"), a person id, or "manager" for your own manager. ' +
        'If nobody decides before the deadline, the request moves up the approver\'s manager chain; at the top it expires (treat expired as denied). ' +
        'Call fetch_status with the approvalId to see whether it was approved, denied, expired or is still pending, and only go ahead once it is approved.',
      inputSchema: {
        target: target.describe('Who approves: a role such as "finance", a person id, an agent id, or "manager" for your manager'),
        stepId: z.string().min(1).max(200).describe('A short name for the step being approved, e.g. "campaign-budget"'),
        payload: z.union([z.string().min(1), z.record(z.string(), z.unknown())]).describe('Exactly what is to be approved (text or a JSON object). The decision is bound to this exact content.'),
        sessionId: z.string().optional().describe('Session (ctx-…) this approval belongs to'),
        deadline: z.string().optional().describe('When the approver must decide by: an ISO time ("2026-12-01T17:00:00Z") or a duration ("30m", "4h", "2d"). Default 1 hour.'),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    },
    async (args) => {
      let deadline: ReturnType<typeof parseDeadline>;
      if (args.deadline !== undefined) {
        deadline = parseDeadline(args.deadline);
        if (!deadline) return fail(`request_approval got invalid arguments: deadline "${args.deadline}" is neither an ISO time nor a duration like "30m", "4h" or "2d".`);
      }
      try {
        const client = await deps.client();
        const who = args.target === 'manager' ? { approver: 'manager' } : { target: args.target };
        const a = await client.requestApproval({ ...who, stepId: args.stepId, payload: args.payload, ...(args.sessionId ? { sessionId: args.sessionId } : {}), ...(deadline ?? {}) });
        return ok(
          { approvalId: a.id, status: 'pending', state: a.state, approver: a.approver, deadline: a.deadline, sessionId: a.sessionId, payloadHash: a.payloadHash },
          `Approval ${a.id} requested from ${a.approver}; decision due by ${a.deadline}. It is pending: call fetch_status with this approvalId later.`,
        );
      } catch (err) {
        return explain('request_approval', err);
      }
    },
  );

  server.registerTool(
    'notify',
    {
      title: 'Notify another role',
      description: 'Sends a short one-way message to a role\'s, a person\'s or an agent\'s agents (no reply expected), e.g. to say a task is done or something needs attention. Returns an acknowledgement with how many agents it was queued for.',
      inputSchema: {
        target,
        message: z.string().min(1).max(20_000).describe('The message text'),
        severity: z.enum(SEVERITIES).optional().describe('info (default), warning or critical'),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    },
    async (args) => {
      try {
        const client = await deps.client();
        const n = await client.notify({ target: args.target, message: args.message, ...(args.severity ? { severity: args.severity } : {}) });
        return ok({ ack: true, notificationId: n.notificationId, delivered: n.delivered, recipients: n.recipients }, n.delivered ? `Queued for ${n.recipients.join(', ')}.` : `Accepted, but ${args.target} has no agent registered to receive it.`);
      } catch (err) {
        return explain('notify', err);
      }
    },
  );

  server.registerTool(
    'fetch_status',
    {
      title: 'Fetch the status of a task, session or approval',
      description:
        'Returns the current state of something you started: a taskId ("task-…") from send_task, an approvalId ("apr-…") from request_approval, or a sessionId ("ctx-…"). ' +
        'Task states: submitted, working, input-required, completed, failed, canceled, rejected. Approval states: requested (pending), approved, denied, expired, withdrawn. ' +
        'A completed task carries the receivers\' messages and artifacts.',
      inputSchema: { id: z.string().min(1).max(200).describe('The taskId, approvalId or sessionId') },
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: true },
    },
    async ({ id }) => {
      if (![ID_PREFIX.task, ID_PREFIX.approval, ID_PREFIX.context].some((p) => id.startsWith(p))) {
        return fail(`fetch_status got invalid arguments: "${id}" is not a taskId (task-…), approvalId (apr-…) or sessionId (ctx-…). Use an id returned by send_task or request_approval.`);
      }
      try {
        const client = await deps.client();
        const s = await client.status(id);
        return ok({ status: s as unknown as Record<string, unknown> }, summariseStatus(s));
      } catch (err) {
        return explain('fetch_status', err);
      }
    },
  );

  return server;
}
