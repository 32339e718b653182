/**
 * Sessions (A2A contexts) and hand-offs. A session lists its participants (roles, persons,
 * agent ids) and a scope; a hand-off routes a task to the next participant through the router
 * and keeps the context it carried as a shard masked for the receiving role. Reading a session
 * aggregates its tasks and approvals and returns only the shards the caller may see: those
 * masked for one of the caller's roles, and those the caller sent.
 */
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ControllerTables } from '../storage/schema.js';
import type { VerifiedCaller } from '../auth/access-tokens.js';
import type { TaskRouter } from '../tasks/router.js';
import type { ApprovalWorkflow } from '../approvals/workflow.js';
import type { AgentRepository } from '../agents/repository.js';
import type { MeshAuditTrail } from '../mesh/audit-trail.js';
import { UnknownTargetError, type TargetResolver } from '../mesh/targets.js';
import type { MeshSessionRow } from '../mesh/schema.js';
import { HttpError } from '../http-errors.js';
import { ID_PREFIX, type HandoffRequest, type RouteAccepted, type SessionCreate, type SessionStatus, type TaskState } from '../../mesh/contracts.js';

export interface SessionDeps {
  db: Kysely<ControllerTables>;
  router: TaskRouter;
  approvals: ApprovalWorkflow;
  agents: AgentRepository;
  targets: TargetResolver;
  audit: MeshAuditTrail;
}

export class SessionBook {
  constructor(private readonly d: SessionDeps) {}

  async create(caller: VerifiedCaller, req: SessionCreate, now = Date.now()): Promise<SessionStatus> {
    for (const p of req.participants) {
      try {
        await this.d.targets.resolve(p);
      } catch (err) {
        if (err instanceof UnknownTargetError) throw new HttpError(422, `participant ${err.message}`);
        throw err;
      }
    }
    const id = `${ID_PREFIX.context}${randomUUID()}`;
    const participants = [...new Set([caller.subject, ...req.participants])];
    await this.d.db
      .insertInto('mesh_sessions')
      .values({ id, scope: req.scope, created_by: caller.subject, participants: JSON.stringify(participants), state: 'active', created_at: now, updated_at: now })
      .execute();
    await this.d.audit.activity({ action: 'mesh.session.created', actor: { id: caller.subject, role: caller.roles[0] ?? null }, target: `session ${id}`, result: 'ok', reason: `participants ${participants.join(', ')}`, traceId: id });
    return this.status(caller, id, false);
  }

  async handoff(caller: VerifiedCaller, id: string, req: HandoffRequest, isAdmin: boolean, now = Date.now()): Promise<RouteAccepted> {
    const session = await this.row(id);
    await this.mustTakePart(caller, session, isAdmin);
    const sender = await this.d.router.sender(caller);
    const routed = await this.d.router.route(caller, { target: req.to, task: req.task, ...(req.context !== undefined ? { context: req.context } : {}), contextId: id, ...(req.messageId ? { messageId: req.messageId } : {}) }, now);
    const { maskedContextByRole, ...accepted } = routed;
    if (routed.duplicate) return accepted;
    for (const [role, m] of maskedContextByRole) {
      await this.d.db
        .insertInto('mesh_shards')
        .values({ id: randomUUID(), session_id: id, from_subject: caller.subject, from_role: sender.role, audience_role: role, text: m.text, redactions: JSON.stringify(m.redactions), created_at: now })
        .execute();
    }
    const participants = JSON.parse(session.participants) as string[];
    if (!participants.includes(req.to)) participants.push(req.to);
    await this.d.db.updateTable('mesh_sessions').set({ participants: JSON.stringify(participants), updated_at: now }).where('id', '=', id).execute();
    await this.d.audit.activity({ action: 'mesh.session.handoff', actor: { id: sender.agentId ?? caller.subject, role: sender.role }, target: `session ${id} -> ${req.to}`, result: 'ok', reason: req.stepId ? `step ${req.stepId}, task ${routed.taskId}` : `task ${routed.taskId}`, traceId: id });
    return accepted;
  }

  async status(caller: VerifiedCaller, id: string, isAdmin: boolean): Promise<SessionStatus> {
    const s = await this.row(id);
    await this.mustTakePart(caller, s, isAdmin);
    const tasks = await this.d.db.selectFrom('mesh_tasks').select(['id', 'title', 'state']).where('context_id', '=', id).orderBy('created_at').execute();
    const taskViews = [];
    for (const t of tasks) {
      const st = await this.d.router.status(t.id);
      taskViews.push({ id: t.id, title: t.title, state: st.state as TaskState, targets: st.targets.map((x) => x.agentId) });
    }
    const shards = await this.d.db
      .selectFrom('mesh_shards')
      .selectAll()
      .where('session_id', '=', id)
      .where((eb) => eb.or([eb('audience_role', 'in', caller.roles), eb('from_subject', '=', caller.subject)]))
      .orderBy('created_at')
      .execute();
    const all = [...taskViews.map((t) => t.state)];
    return {
      kind: 'session',
      id: s.id,
      scope: s.scope,
      state: all.length > 0 && all.every((x) => ['completed', 'failed', 'canceled', 'rejected'].includes(x)) ? 'completed' : 'active',
      createdBy: s.created_by,
      participants: JSON.parse(s.participants) as string[],
      tasks: taskViews,
      approvals: await this.d.approvals.forSession(id),
      shards: shards.map((x) => ({ id: x.id, fromRole: x.from_role, audienceRole: x.audience_role, text: x.text, redactions: JSON.parse(x.redactions) as Array<{ class: string; count: number }>, createdAt: new Date(Number(x.created_at)).toISOString() })),
      createdAt: new Date(Number(s.created_at)).toISOString(),
      updatedAt: new Date(Number(s.updated_at)).toISOString(),
    };
  }

  async exists(id: string): Promise<boolean> {
    return (await this.d.db.selectFrom('mesh_sessions').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
  }

  /** A participant is named by the caller's subject, one of its roles, or one of its agent ids. */
  private async mustTakePart(caller: VerifiedCaller, s: MeshSessionRow, isAdmin: boolean): Promise<void> {
    if (isAdmin) return;
    const participants = new Set(JSON.parse(s.participants) as string[]);
    if (participants.has(caller.subject) || caller.roles.some((r) => participants.has(r))) return;
    const agents = await this.d.agents.byOwner(caller.subject);
    if (agents.some((a) => participants.has(a.agentId) || participants.has(a.role))) return;
    throw new HttpError(403, `you are not a participant of session ${s.id}`);
  }

  private async row(id: string): Promise<MeshSessionRow> {
    const r = await this.d.db.selectFrom('mesh_sessions').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new HttpError(404, `no session ${id}`);
    return r;
  }
}
