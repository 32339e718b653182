/**
 * The task router: picks target agents by role, skill, load and locale after a Cedar check
 * (`task.send` on the target role), masks the task and context for each receiver's role at the
 * redaction boundary, stores the task and queues one delivery per target in one transaction,
 * records a RouteEvent in the audit chain and answers with the task id at once. Agents report
 * progress and results against their lease; the task's state is derived from its deliveries.
 */
import type { DecisionMetrics } from '../../platform/telemetry/metrics.js';
import { randomUUID } from 'node:crypto';
import type { VerifiedCaller } from '../auth/access-tokens.js';
import type { PolicyEvaluator, EvaluationPrincipal } from '../policy/evaluator.js';
import type { DirectoryRepository } from '../directory/repository.js';
import { toAgent, type Agent, type AgentRepository, type AgentWithBacklog } from '../agents/repository.js';
import type { TaskQueue, NewDelivery } from './queue.js';
import type { MeshAuditTrail, PolicyEval } from '../mesh/audit-trail.js';
import type { RedactionBoundary } from '../mesh/redaction-boundary.js';
import { BlockedByGuardError } from '../mesh/redaction-boundary.js';
import type { TargetResolver } from '../mesh/targets.js';
import { UnknownTargetError } from '../mesh/targets.js';
import type { Wakeups } from '../mesh/wakeups.js';
import type { MeshSettings } from '../mesh/settings.js';
import type { MeshDeliveryRow, MeshTaskRow } from '../mesh/schema.js';
import { HttpError } from '../http-errors.js';
import type { Kysely } from 'kysely';
import type { IdempotencyAnswer } from '../idempotency/hook.js';
import type { ControllerTables } from '../storage/schema.js';
import {
  ID_PREFIX,
  TERMINAL_TASK_STATES,
  type Artifact,
  type RouteAccepted,
  type RouteRequest,
  type TaskProgress,
  type TaskResult,
  type TaskState,
  type TaskStatus,
  type TaskTargetStatus,
  type WorkItem,
} from '../../mesh/contracts.js';

export interface RouterDeps {
  db: Kysely<ControllerTables>;
  agents: AgentRepository;
  directory: DirectoryRepository;
  evaluator: PolicyEvaluator;
  queue: TaskQueue;
  audit: MeshAuditTrail;
  boundary: RedactionBoundary;
  targets: TargetResolver;
  wakeups: Wakeups;
  settings: MeshSettings;
  /** Counts each routing decision (routed, denied by policy, blocked by the guard) by target role. */
  metrics?: DecisionMetrics;
}

export interface Sender {
  subject: string;
  person: string;
  role: string;
  agentId: string | null;
  roles: string[];
}

/** What the router did, for callers that keep more (sessions keep the masked context per role). */
export interface RouteOutcome extends RouteAccepted {
  maskedContextByRole: Map<string, { text: string; redactions: Array<{ class: string; count: number }> }>;
}

export class TaskRouter {
  constructor(private readonly d: RouterDeps) {}

  /** The caller as a sender: its agent (given, or its most recent one) or its token alone. */
  async sender(caller: VerifiedCaller, fromAgent?: string): Promise<Sender> {
    let agent: Agent | undefined;
    if (fromAgent) {
      agent = await this.d.agents.get(fromAgent);
      if (!agent || agent.owner !== caller.subject) throw new HttpError(403, `agent "${fromAgent}" is not registered by your token; register it first (POST /api/v1/agents)`);
    } else {
      agent = (await this.d.agents.byOwner(caller.subject))[0];
    }
    const role = agent?.role ?? caller.roles[0]!;
    return { subject: caller.subject, person: agent?.person ?? caller.subject, role, agentId: agent?.agentId ?? null, roles: agent ? [agent.role] : caller.roles };
  }

  async principal(s: Sender): Promise<EvaluationPrincipal> {
    const facts = await this.d.directory.personFacts(s.person);
    return facts
      ? { id: facts.id, roles: [...new Set([...facts.roles, ...s.roles])], department: facts.department, team: facts.team, attributes: facts.attributes }
      : { id: s.person, roles: s.roles };
  }

  /** Cedar check of an action on a target role; a deny is audited and refused with the reasons. */
  async authorize(s: Sender, action: string, role: string, traceId: string, dataClass?: string): Promise<PolicyEval> {
    const r = this.d.evaluator.evaluate({
      principal: await this.principal(s),
      action,
      resource: { type: 'mesh-role', id: role },
      context: dataClass ? { dataClass } : {},
    });
    const policyEval = { allow: r.allow, policyVersion: r.policyVersion, policies: r.policies };
    if (!r.allow) {
      await this.d.audit.route({ id: randomUUID(), ts: new Date().toISOString(), taskId: traceId, fromAgent: s.agentId ?? s.subject, fromRole: s.role, toAgent: [], policyEval, reason: `denied ${action} to role ${role}: ${r.reasons.join('; ')}` });
      this.d.metrics?.recordRouting('mesh.denied', role);
      throw new HttpError(403, `policy does not allow ${action} to role ${role}: ${r.reasons.join('; ')}`);
    }
    return policyEval;
  }

  /**
   * `answer`: turns the route's answer into the Idempotency-Key answer to store with its RouteEvent
   * (one write for both, decision 0079); called only when the task was stored and the event is about to be.
   */
  async route(caller: VerifiedCaller, req: RouteRequest, now = Date.now(), answer?: (accepted: RouteAccepted) => IdempotencyAnswer): Promise<RouteOutcome> {
    // The sender, a prior task under this messageId and the candidates do not depend on each
    // other: read them at once (three round trips on the critical path instead of five).
    // The sender's subject is the caller's, whatever agent it sends as.
    const [sender, prior, picked] = await Promise.allSettled([
      this.sender(caller, req.fromAgent),
      req.messageId ? this.d.db.selectFrom('mesh_tasks').selectAll().where('from_subject', '=', caller.subject).where('message_id', '=', req.messageId).executeTakeFirst() : Promise.resolve(undefined),
      this.pick(req, now),
    ]);
    if (sender.status === 'rejected') throw sender.reason;
    const s = sender.value;
    if (prior.status === 'rejected') throw prior.reason;
    if (prior.value) return this.replay(prior.value);
    if (picked.status === 'rejected') throw picked.reason;
    const chosen = picked.value;
    const taskId = `${ID_PREFIX.task}${randomUUID()}`;
    const contextId = req.contextId ?? `${ID_PREFIX.context}${randomUUID()}`;

    const roles = [...new Set(chosen.map((a) => a.role))];
    let policyEval: PolicyEval | undefined;
    for (const role of roles) policyEval = await this.authorize(s, 'task.send', role, taskId, req.policyHints?.dataClass);

    // Redaction boundary: mask once per receiving role.
    const masked = new Map<string, { title: string; text: string | undefined; data: Record<string, unknown> | undefined; context: string | null; redactions: Array<{ class: string; count: number }> }>();
    const contextByRole: RouteOutcome['maskedContextByRole'] = new Map();
    for (const role of roles) {
      try {
        const totals = new Map<string, number>();
        const add = (rs: Array<{ class: string; count: number }>) => rs.forEach((r) => totals.set(r.class, (totals.get(r.class) ?? 0) + r.count));
        const title = this.d.boundary.maskFor([role], req.task.title);
        add(title.redactions);
        const text = req.task.text === undefined ? undefined : this.d.boundary.maskFor([role], req.task.text);
        if (text) add(text.redactions);
        const data = req.task.data === undefined ? undefined : this.d.boundary.maskJson([role], req.task.data);
        data?.redactions.forEach((n, c) => totals.set(c, (totals.get(c) ?? 0) + n));
        const ctx = req.context === undefined ? undefined : this.d.boundary.maskFor([role], req.context);
        if (ctx) {
          add(ctx.redactions);
          contextByRole.set(role, ctx);
        }
        masked.set(role, {
          title: title.text,
          text: text?.text,
          data: data?.value as Record<string, unknown> | undefined,
          context: ctx?.text ?? null,
          redactions: [...totals].map(([c, n]) => ({ class: c, count: n })),
        });
      } catch (err) {
        if (!(err instanceof BlockedByGuardError)) throw err;
        await this.d.audit.route({ id: randomUUID(), ts: new Date(now).toISOString(), taskId, fromAgent: s.agentId ?? s.subject, fromRole: s.role, toAgent: [], policyEval: { allow: false, policyVersion: this.d.evaluator.version, policies: [] }, reason: `privacy guard: ${err.dataClass} is blocked for role ${err.role}` });
        this.d.metrics?.recordRouting('mesh.blocked', err.role);
        throw new HttpError(422, err.message);
      }
    }

    const deliveries: NewDelivery[] = chosen.map((a) => {
      const m = masked.get(a.role)!;
      const item: Omit<WorkItem, 'deliveryId' | 'leaseId' | 'leaseExpiresAt' | 'attempt'> = {
        kind: 'task',
        from: { agentId: s.agentId, person: s.person, role: s.role },
        contextId,
        taskId,
        approvalId: null,
        task: { title: m.title, ...(m.text !== undefined ? { text: m.text } : {}), ...(m.data !== undefined ? { data: m.data } : {}) },
        context: m.context,
        redactions: m.redactions,
      };
      return { id: `${ID_PREFIX.delivery}${randomUUID()}`, kind: 'task', agentId: a.agentId, taskId, approvalId: null, payload: JSON.stringify(item) };
    });

    try {
      const task = { id: taskId, context_id: contextId, message_id: req.messageId ?? null, from_subject: s.subject, from_agent: s.agentId, from_role: s.role, title: masked.get(chosen[0]!.role)!.title, state: 'submitted', created_at: now, updated_at: now };
      await this.d.queue.enqueueWithTask(task, deliveries, now);
    } catch (err) {
      // Two retries with one messageId racing: the loser returns the winner's task.
      if (req.messageId) {
        const prior = await this.d.db.selectFrom('mesh_tasks').selectAll().where('from_subject', '=', s.subject).where('message_id', '=', req.messageId).executeTakeFirst();
        if (prior) return this.replay(prior);
      }
      throw err;
    }
    const redactions = mergeRedactions([...masked.values()].map((m) => m.redactions));
    const accepted: RouteAccepted = {
      taskId,
      contextId,
      state: 'submitted',
      targets: chosen.map((a, i) => ({ agentId: a.agentId, person: a.person, role: a.role, online: now - a.lastSeen <= this.d.settings.offlineAfterMs, deliveryId: deliveries[i]!.id })),
      policyVersion: policyEval!.policyVersion,
      duplicate: false,
    };
    await this.d.audit.route({
      id: randomUUID(),
      ts: new Date(now).toISOString(),
      taskId,
      fromAgent: s.agentId ?? s.subject,
      fromRole: s.role,
      toAgent: chosen.map((a) => a.agentId),
      policyEval: policyEval!,
      reason: describeChoice(req, chosen, now, this.d.settings.offlineAfterMs),
      redactions,
    }, answer?.(accepted));
    for (const role of new Set(chosen.map((a) => a.role))) this.d.metrics?.recordRouting('mesh.routed', role);
    for (const a of chosen) this.d.wakeups.wake(a.agentId);
    return { ...accepted, maskedContextByRole: contextByRole };
  }

  /** Candidates by target or skills, then ranked: online, locale, spare capacity, recent. */
  private async pick(req: RouteRequest, now: number): Promise<Agent[]> {
    const hints = req.policyHints ?? {};
    let candidates: Array<Agent & Partial<Pick<AgentWithBacklog, 'backlog'>>>;
    let what: string;
    if (req.target) {
      try {
        const t = await this.d.targets.resolveForRouting(req.target);
        candidates = t.agents;
        what = `${t.kind} "${t.id}"`;
      } catch (err) {
        if (err instanceof UnknownTargetError) throw new HttpError(404, err.message);
        throw err;
      }
    } else if (hints.role) {
      candidates = await this.d.agents.byRole(hints.role);
      what = `role "${hints.role}"`;
    } else if (hints.skills?.length) {
      candidates = (await this.d.agents.all(10_000)).filter((a) => hints.skills!.some((sk) => a.skills.includes(sk)));
      what = `skills ${hints.skills.join(', ')}`;
    } else {
      throw new HttpError(400, 'say where the task goes: pass "target" (a role, person or agent id), or policyHints.role or policyHints.skills');
    }
    if (hints.role) candidates = candidates.filter((a) => a.role === hints.role);
    if (hints.skills?.length) {
      const all = candidates.filter((a) => hints.skills!.every((sk) => a.skills.includes(sk)));
      if (all.length) candidates = all;
    }
    if (candidates.length === 0) throw new HttpError(404, `no agent is registered for ${what}${hints.role ? ` with role ${hints.role}` : ''}; the receiving person must run an agent (switchboard mesh) first`);
    const offline = this.d.settings.offlineAfterMs;
    // Load = what the agent last reported plus the work queued or leased to it right now, so
    // tasks spread over a role's agents as they are routed (heartbeats alone come every 10 s,
    // and ranking by recency sent a whole burst to one agent, whose leases then ran out).
    // A target's agents come with their backlog (one statement); role or skill hints alone count it now.
    const counted = candidates.every((a) => a.backlog !== undefined) ? undefined : await this.d.queue.backlogs(candidates.map((a) => a.agentId));
    const score = (a: (typeof candidates)[number]) => [
      now - a.lastSeen <= offline ? 0 : 1,
      hints.locale && a.locale !== hints.locale ? (a.locale?.split('-')[0] === hints.locale.split('-')[0] ? 1 : 2) : 0,
      (a.load + (a.backlog ?? counted?.get(a.agentId) ?? 0)) / Math.max(1, a.capacity),
    ];
    // Ties break at random, so concurrent routes that read the same backlog do not all pick one agent.
    const ranked = candidates
      .map((a) => ({ a, s: score(a), r: Math.random() }))
      .sort((x, y) => {
        for (let i = 0; i < x.s.length; i++) if (x.s[i]! !== y.s[i]!) return x.s[i]! - y.s[i]!;
        return x.r - y.r;
      });
    const fanout = Math.max(1, Math.min(hints.fanout ?? 1, ranked.length));
    return ranked.slice(0, fanout).map((r) => r.a);
  }

  private async replay(task: MeshTaskRow): Promise<RouteOutcome> {
    const deliveries = await this.d.db.selectFrom('mesh_deliveries').selectAll().where('task_id', '=', task.id).orderBy('created_at').execute();
    const now = Date.now();
    const targets = [];
    for (const dl of deliveries) {
      const a = await this.d.agents.get(dl.agent_id);
      targets.push({ agentId: dl.agent_id, person: a?.person ?? '', role: a?.role ?? '', online: a ? now - a.lastSeen <= this.d.settings.offlineAfterMs : false, deliveryId: dl.id });
    }
    return { taskId: task.id, contextId: task.context_id, state: task.state as TaskState, targets, policyVersion: this.d.evaluator.version, duplicate: true, maskedContextByRole: new Map() };
  }

  /** The delivery of a task that this caller holds under this lease, with the task's agents (read with the deliveries, one statement). */
  private async heldDelivery(caller: VerifiedCaller, taskId: string, leaseId: string): Promise<MeshDeliveryRow & { agent: Agent; agents: Map<string, Agent> }> {
    const rows = await this.d.db
      .selectFrom('mesh_deliveries as d')
      .leftJoin('mesh_agents as a', 'a.agent_id', 'd.agent_id')
      .selectAll('d')
      .select(['a.owner as a_owner', 'a.person as a_person', 'a.role as a_role', 'a.skills as a_skills', 'a.load as a_load', 'a.capacity as a_capacity', 'a.locale as a_locale', 'a.last_seen as a_last_seen', 'a.registered_at as a_registered_at'])
      .where('d.task_id', '=', taskId)
      .execute();
    if (rows.length === 0) throw new HttpError(404, `no task ${taskId}`);
    const agents = new Map<string, Agent>();
    for (const r of rows) {
      if (r.a_owner === null) continue;
      agents.set(r.agent_id, toAgent({ agent_id: r.agent_id, owner: r.a_owner, person: r.a_person!, role: r.a_role!, skills: r.a_skills!, load: r.a_load!, capacity: r.a_capacity!, locale: r.a_locale, last_seen: r.a_last_seen!, registered_at: r.a_registered_at! }));
    }
    const owned = rows.filter((dl) => agents.get(dl.agent_id)?.owner === caller.subject);
    if (owned.length === 0) throw new HttpError(403, `task ${taskId} was not delivered to an agent your token owns`);
    const held = owned.find((dl) => dl.lease_id === leaseId);
    if (!held) throw new HttpError(409, leaseLost(taskId));
    const { a_owner: _o, a_person: _p, a_role: _r, a_skills: _s, a_load: _l, a_capacity: _c, a_locale: _lc, a_last_seen: _ls, a_registered_at: _ra, ...delivery } = held;
    return { ...delivery, agent: agents.get(held.agent_id)!, agents };
  }

  async progress(caller: VerifiedCaller, taskId: string, p: TaskProgress, now = Date.now()): Promise<TaskStatus> {
    const dl = await this.heldDelivery(caller, taskId, p.leaseId);
    if (!(await this.d.queue.extend(dl.id, p.leaseId, now))) throw new HttpError(409, leaseLost(taskId));
    await this.d.db.updateTable('mesh_deliveries').set({ result_state: p.state, result: JSON.stringify({ message: p.message ?? null, artifacts: [] }) }).where('id', '=', dl.id).where('state', '=', 'leased').execute();
    return this.refreshState(taskId, now, dl.agents);
  }

  /** `answer`: as for `route`, the Idempotency-Key answer stored with the result's audit event when the result is applied. */
  async result(caller: VerifiedCaller, taskId: string, r: TaskResult, now = Date.now(), answer?: (status: TaskStatus) => IdempotencyAnswer): Promise<TaskStatus> {
    const dl = await this.heldDelivery(caller, taskId, r.leaseId);
    // A repeat of the result this lease already settled (the answer to the first was lost) is answered, not re-applied;
    // the task's stored state is refreshed, since the first attempt may have died between settling and storing it.
    if (dl.state === 'done' && dl.result_state === r.state) return this.refreshState(taskId, now, dl.agents);
    const body = JSON.stringify({ message: r.message ?? null, artifacts: r.artifacts ?? [], cost: r.cost ?? { tokens: 0, usd: 0 } });
    if (!(await this.d.queue.settle(dl.id, r.leaseId, { resultState: r.state, result: body }, now))) {
      const after = await this.d.db.selectFrom('mesh_deliveries').select(['state', 'lease_id', 'result_state']).where('id', '=', dl.id).executeTakeFirst();
      if (after?.state === 'done' && after.lease_id === r.leaseId && after.result_state === r.state) return this.refreshState(taskId, now, dl.agents);
      throw new HttpError(409, leaseLost(taskId));
    }
    const status = await this.refreshState(taskId, now, dl.agents);
    await this.d.audit.activity({
      action: `mesh.task.${r.state}`,
      actor: { id: dl.agent_id, role: dl.agent.role },
      target: `task ${taskId}`,
      result: r.state === 'completed' ? 'ok' : r.state === 'rejected' ? 'denied' : 'error',
      reason: null,
      traceId: taskId,
      cost: r.cost ?? { tokens: 0, usd: 0 },
      policyVersion: this.d.evaluator.version,
    }, answer?.(status));
    return status;
  }

  async cancel(caller: VerifiedCaller, taskId: string, isAdmin: boolean, now = Date.now()): Promise<TaskStatus> {
    const task = await this.taskRow(taskId);
    if (task.from_subject !== caller.subject && !isAdmin) throw new HttpError(403, `only the sender of task ${taskId} may cancel it`);
    if (!TERMINAL_TASK_STATES.has(task.state as TaskState)) {
      await this.d.queue.cancelTask(taskId, now);
      await this.d.db.updateTable('mesh_tasks').set({ state: 'canceled', updated_at: now }).where('id', '=', taskId).execute();
      await this.d.audit.activity({ action: 'mesh.task.canceled', actor: { id: caller.subject, role: caller.roles[0] ?? null }, target: `task ${taskId}`, result: 'ok', reason: null, traceId: taskId });
    }
    return this.status(taskId);
  }

  /** Recomputes a task's state from its deliveries (and stores it). `agents`: the task's agents when the caller has just read them. */
  async refreshState(taskId: string, now = Date.now(), agents?: ReadonlyMap<string, Agent>): Promise<TaskStatus> {
    const status = await this.status(taskId, agents);
    await this.d.db.updateTable('mesh_tasks').set({ state: status.state, updated_at: now }).where('id', '=', taskId).where('state', '!=', 'canceled').execute();
    return status;
  }

  private async taskRow(taskId: string): Promise<MeshTaskRow> {
    const t = await this.d.db.selectFrom('mesh_tasks').selectAll().where('id', '=', taskId).executeTakeFirst();
    if (!t) throw new HttpError(404, `no task ${taskId}`);
    return t;
  }

  /** Visible to the sender, the receivers' owners and admins. */
  async statusFor(caller: VerifiedCaller, taskId: string, isAdmin: boolean): Promise<TaskStatus> {
    const status = await this.status(taskId);
    const task = await this.taskRow(taskId);
    if (isAdmin || task.from_subject === caller.subject) return status;
    for (const t of status.targets) {
      const a = await this.d.agents.get(t.agentId);
      if (a?.owner === caller.subject) return status;
    }
    throw new HttpError(403, `task ${taskId} is not yours: only its sender, its receivers and admins may read it`);
  }

  /**
   * A task with the state of each delivery. The task and its deliveries are one statement; the
   * agents' roles are read after it unless the caller passes the task's agents it has just read
   * (a delivery's agent never changes).
   */
  async status(taskId: string, knownAgents?: ReadonlyMap<string, Agent>): Promise<TaskStatus> {
    const rows = await this.d.db
      .selectFrom('mesh_tasks as t')
      .leftJoin('mesh_deliveries as d', 'd.task_id', 't.id')
      .select(['t.id', 't.context_id', 't.title', 't.state as task_state', 't.from_agent', 't.from_subject', 't.from_role', 't.created_at as task_created_at', 't.updated_at as task_updated_at'])
      .select(['d.id as delivery_id', 'd.agent_id', 'd.state', 'd.result_state', 'd.result', 'd.attempts', 'd.created_at'])
      .where('t.id', '=', taskId)
      .orderBy('d.created_at')
      .execute();
    const task = rows[0];
    if (!task) throw new HttpError(404, `no task ${taskId}`);
    const deliveries = rows.filter((r) => r.delivery_id !== null);
    const ids = deliveries.map((dl) => dl.agent_id!);
    const agents = knownAgents && ids.every((id) => knownAgents.has(id)) ? knownAgents : await this.d.agents.getMany(ids);
    const targets: TaskTargetStatus[] = [];
    for (const dl of deliveries) {
      const res = dl.result ? (JSON.parse(dl.result) as { message: string | null; artifacts: Artifact[] }) : { message: null, artifacts: [] };
      const agent = agents.get(dl.agent_id!);
      targets.push({ agentId: dl.agent_id!, role: agent?.role ?? '', state: deliveryState({ state: dl.state!, result_state: dl.result_state }), message: res.message, artifacts: res.artifacts, attempts: Number(dl.attempts) });
    }
    return {
      kind: 'task',
      id: task.id,
      contextId: task.context_id,
      state: task.task_state === 'canceled' ? 'canceled' : overallState(targets.map((t) => t.state)),
      title: task.title,
      from: { agentId: task.from_agent, person: task.from_subject, role: task.from_role },
      targets,
      createdAt: new Date(Number(task.task_created_at)).toISOString(),
      updatedAt: new Date(Number(task.task_updated_at)).toISOString(),
    };
  }

  /** Lease reaping: items out of attempts fail their task. */
  async reap(now = Date.now()): Promise<number> {
    const dead = await this.d.queue.reapExhausted(now);
    for (const taskId of new Set(dead.map((d) => d.task_id).filter((t): t is string => t !== null))) {
      await this.refreshState(taskId, now);
      await this.d.audit.activity({ action: 'mesh.task.failed', actor: { id: 'controller', role: null }, target: `task ${taskId}`, result: 'error', reason: `no worker finished it in ${this.d.settings.maxAttempts} leases`, traceId: taskId });
    }
    return dead.length;
  }
}

function leaseLost(taskId: string): string {
  return `your lease on task ${taskId} is no longer live (it ran out and the task went to another attempt, the task was canceled, or it was already finished with another outcome); drop this attempt`;
}

function deliveryState(dl: Pick<MeshDeliveryRow, 'state' | 'result_state'>): TaskState {
  if (dl.state === 'queued') return 'submitted';
  if (dl.state === 'leased') return (dl.result_state as TaskState | null) ?? 'working';
  if (dl.state === 'canceled') return 'canceled';
  if (dl.state === 'dead') return 'failed';
  return (dl.result_state as TaskState | null) ?? 'completed';
}

/** Fan-out: terminal once every target is; completed when any target completed. */
export function overallState(states: readonly TaskState[]): TaskState {
  if (states.length === 0) return 'submitted';
  if (states.every((s) => TERMINAL_TASK_STATES.has(s))) {
    if (states.includes('completed')) return 'completed';
    return states.find((s) => s === 'rejected') ?? states.find((s) => s === 'failed') ?? states[0]!;
  }
  if (states.includes('input-required')) return 'input-required';
  if (states.includes('working')) return 'working';
  return 'submitted';
}

function mergeRedactions(lists: Array<Array<{ class: string; count: number }>>): Array<{ class: string; count: number }> {
  const m = new Map<string, number>();
  for (const l of lists) for (const r of l) m.set(r.class, Math.max(m.get(r.class) ?? 0, r.count));
  return [...m].map(([c, n]) => ({ class: c, count: n }));
}

function describeChoice(req: RouteRequest, chosen: Agent[], now: number, offlineAfterMs: number): string {
  const how = req.target ? `target ${req.target}` : req.policyHints?.role ? `role ${req.policyHints.role}` : `skills ${req.policyHints?.skills?.join('+')}`;
  const who = chosen.map((a) => `${a.agentId}(${a.role}, load ${a.load}/${a.capacity}${now - a.lastSeen <= offlineAfterMs ? '' : ', offline: queued'})`).join(', ');
  return `routed by ${how} to ${who}`;
}
