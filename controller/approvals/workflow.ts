/**
 * Approvals across the org chart. The approver comes from the directory (a role's member, a
 * person, or the requester's manager); the chain is that approver then their managers. States:
 * requested → approved | denied | expired | withdrawn. The first decision wins (compare-and-swap
 * on the row), a decision must quote the hash of the exact payload, and a request whose deadline
 * passes moves one step up the chain with a fresh window (expired when the chain ends — fail
 * closed). Each viewer sees the payload masked under their own role policy; the clear payload
 * is never stored, only its hash. Every transition is an ApprovalEvent in the audit chain.
 */
import { createHash, randomUUID } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { Kysely } from 'kysely';
import type { ControllerTables } from '../storage/schema.js';
import type { VerifiedCaller } from '../auth/access-tokens.js';
import type { DirectoryRepository } from '../directory/repository.js';
import type { AgentRepository } from '../agents/repository.js';
import type { TaskQueue } from '../tasks/queue.js';
import type { TaskRouter } from '../tasks/router.js';
import type { MeshAuditTrail, ApprovalDecisionKind } from '../mesh/audit-trail.js';
import { BlockedByGuardError, type RedactionBoundary } from '../mesh/redaction-boundary.js';
import { UnknownTargetError, type TargetResolver } from '../mesh/targets.js';
import type { Wakeups } from '../mesh/wakeups.js';
import type { MeshSettings } from '../mesh/settings.js';
import type { MeshApprovalRow } from '../mesh/schema.js';
import { HttpError } from '../http-errors.js';
import type { DecisionMetrics } from '../../platform/telemetry/metrics.js';
import { ID_PREFIX, type ApprovalInboxItem, type ApprovalCreate, type ApprovalDecision, type ApprovalState, type ApprovalStatus, type WorkItem } from '../../mesh/contracts.js';

export interface ApprovalDeps {
  db: Kysely<ControllerTables>;
  directory: DirectoryRepository;
  agents: AgentRepository;
  queue: TaskQueue;
  router: TaskRouter;
  audit: MeshAuditTrail;
  boundary: RedactionBoundary;
  targets: TargetResolver;
  wakeups: Wakeups;
  settings: MeshSettings;
  /** Approval times (request → approved/denied/expired/withdrawn) go to `/metrics`. */
  metrics?: DecisionMetrics;
}

/** Transitions that end an approval: each records its time since the request. */
const FINAL_DECISIONS: ReadonlySet<string> = new Set(['approved', 'denied', 'expired', 'withdrawn']);

type View = { text: string; redactions: Array<{ class: string; count: number }> };

export function payloadHash(payload: ApprovalCreate['payload']): string {
  const text = typeof payload === 'string' ? payload : canonicalize(payload);
  if (text === undefined) throw new HttpError(400, 'payload is not serialisable JSON');
  return createHash('sha256').update(text).digest('hex');
}

export class ApprovalWorkflow {
  constructor(private readonly d: ApprovalDeps) {}

  async create(caller: VerifiedCaller, req: ApprovalCreate, now = Date.now()): Promise<ApprovalStatus> {
    const chosen = [req.approverRole, req.approver, req.target].filter((x) => x !== undefined);
    if (chosen.length !== 1) throw new HttpError(400, 'give exactly one of approverRole, approver (a person id or "manager") or target');
    const s = await this.d.router.sender(caller);
    const id = `${ID_PREFIX.approval}${randomUUID()}`;
    const first = await this.firstApprover(s.person, req);
    const chain = [first, ...(await this.d.directory.managerChain(first)).map((m) => m.id)];
    const approverRoles = await this.d.targets.rolesOfPerson(first);
    const policyEval = await this.d.router.authorize(s, 'approval.request', approverRoles[0] ?? 'unknown', id);

    let windowMs = this.d.settings.defaultApprovalWindowMs;
    if (req.deadline !== undefined) windowMs = Date.parse(req.deadline) - now;
    else if (req.deadlineSeconds !== undefined) windowMs = req.deadlineSeconds * 1000;
    if (!(windowMs > 0)) throw new HttpError(400, 'deadline must be in the future');

    const hash = payloadHash(req.payload);
    const views: Record<string, View> = {};
    for (const person of new Set([s.person, ...chain])) views[person] = await this.viewFor(person, req.payload, person === first);
    const sessionId = req.sessionId ?? `${ID_PREFIX.context}${randomUUID()}`;
    const row: MeshApprovalRow = {
      id,
      session_id: sessionId,
      step_id: req.stepId,
      requester: s.person,
      requester_role: s.role,
      chain: JSON.stringify(chain),
      views: JSON.stringify(views),
      state: 'requested',
      level: 0,
      approver: first,
      payload_hash: hash,
      window_ms: windowMs,
      deadline: now + windowMs,
      decided_by: null,
      notes: null,
      created_at: now,
      updated_at: now,
    };
    await this.d.db.insertInto('mesh_approvals').values(row).execute();
    const delivered = await this.deliver(row, s, now);
    // Both events are queued now, in this order, so they share one audit commit (the answer waits for both).
    await Promise.all([
      this.d.audit.route({
        id: randomUUID(),
        ts: new Date(now).toISOString(),
        taskId: id,
        fromAgent: s.agentId ?? s.subject,
        fromRole: s.role,
        toAgent: delivered,
        policyEval,
        reason: `approval ${req.stepId} routed to ${first} (chain ${chain.join(' > ')})${delivered.length ? '' : '; approver has no agent, decision by API'}`,
        redactions: views[first]!.redactions,
      }),
      this.event(row, s.person, 'requested', null, now),
    ]);
    return this.view(row, s.person);
  }

  async decide(caller: VerifiedCaller, id: string, dec: ApprovalDecision, now = Date.now()): Promise<ApprovalStatus> {
    const row = await this.row(id);
    const notes = dec.notes === undefined ? null : this.d.boundary.maskFor(['__audit__'], dec.notes).text;
    const res = await this.d.db
      .updateTable('mesh_approvals')
      .set({ state: dec.decision, decided_by: caller.subject, notes, updated_at: now })
      .where('id', '=', id)
      .where('state', '=', 'requested')
      .where('approver', '=', caller.subject)
      .where('payload_hash', '=', dec.payloadHash)
      .where('deadline', '>', now)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) {
      const cur = await this.row(id);
      if (cur.state !== 'requested') throw new HttpError(409, `approval ${id} is already ${cur.state}${cur.decided_by ? ` by ${cur.decided_by}` : ''}; the first decision stands`);
      if (Number(cur.deadline) <= now) {
        await this.sweep(now);
        const after = await this.row(id);
        throw new HttpError(409, `the deadline of approval ${id} passed at ${new Date(Number(cur.deadline)).toISOString()}; it is now ${after.state === 'requested' ? `escalated to ${after.approver}` : after.state}`);
      }
      if (cur.approver !== caller.subject) throw new HttpError(403, `approval ${id} waits for ${cur.approver}, not for you`);
      throw new HttpError(409, `payloadHash does not match the payload of approval ${id}; fetch it again and decide on what you were shown`);
    }
    await this.d.queue.cancelApproval(id, now);
    const updated = await this.row(id);
    await this.event(updated, caller.subject, dec.decision, notes, now);
    return this.view(updated, caller.subject);
  }

  async withdraw(caller: VerifiedCaller, id: string, now = Date.now()): Promise<ApprovalStatus> {
    const row = await this.row(id);
    if (row.requester !== caller.subject) throw new HttpError(403, `only the requester (${row.requester}) may withdraw approval ${id}`);
    const res = await this.d.db.updateTable('mesh_approvals').set({ state: 'withdrawn', updated_at: now }).where('id', '=', id).where('state', '=', 'requested').executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) throw new HttpError(409, `approval ${id} is already ${(await this.row(id)).state}; nothing to withdraw`);
    await this.d.queue.cancelApproval(id, now);
    const updated = await this.row(id);
    await this.event(updated, caller.subject, 'withdrawn', null, now);
    return this.view(updated, caller.subject);
  }

  /** Escalates or expires every request past its deadline; safe to run in several processes (CAS per row). */
  async sweep(now = Date.now()): Promise<number> {
    const due = await this.d.db.selectFrom('mesh_approvals').selectAll().where('state', '=', 'requested').where('deadline', '<=', now).limit(200).execute();
    let moved = 0;
    for (const row of due) {
      const chain = JSON.parse(row.chain) as string[];
      const level = Number(row.level);
      const next = chain[level + 1];
      const cas = this.d.db.updateTable('mesh_approvals').where('id', '=', row.id).where('state', '=', 'requested').where('level', '=', level);
      if (next) {
        const res = await cas.set({ level: level + 1, approver: next, deadline: now + Number(row.window_ms), updated_at: now }).executeTakeFirst();
        if (Number(res.numUpdatedRows) !== 1) continue;
        await this.d.queue.cancelApproval(row.id, now);
        const updated = await this.row(row.id);
        await this.event(updated, next, 'escalated', `deadline passed for ${row.approver}; escalated to ${next}`, now);
        await this.deliver(updated, { person: row.requester, role: row.requester_role, agentId: null }, now);
      } else {
        const res = await cas.set({ state: 'expired', updated_at: now }).executeTakeFirst();
        if (Number(res.numUpdatedRows) !== 1) continue;
        await this.d.queue.cancelApproval(row.id, now);
        await this.event(await this.row(row.id), row.approver, 'expired', 'deadline passed at the top of the chain; denied (fail closed)', now);
      }
      moved++;
    }
    return moved;
  }

  async statusFor(caller: VerifiedCaller, id: string, isAdmin: boolean): Promise<ApprovalStatus> {
    const row = await this.row(id);
    const chain = JSON.parse(row.chain) as string[];
    if (!isAdmin && row.requester !== caller.subject && !chain.includes(caller.subject)) {
      throw new HttpError(403, `approval ${id} is not yours: only its requester, its approvers and admins may read it`);
    }
    return this.view(row, caller.subject);
  }

  async pendingFor(person: string): Promise<ApprovalStatus[]> {
    const rows = await this.d.db.selectFrom('mesh_approvals').selectAll().where('approver', '=', person).where('state', '=', 'requested').orderBy('deadline').limit(100).execute();
    return rows.map((r) => this.view(r, person));
  }

  /**
   * What `person` may decide now: pending requests whose current approver they are, deadline
   * not yet passed. Each payload is the view the redaction boundary made for them when the
   * request was created (masked under their role policy; the clear payload is never stored).
   */
  async inboxFor(person: string, now = Date.now()): Promise<ApprovalInboxItem[]> {
    const rows = await this.d.db
      .selectFrom('mesh_approvals')
      .selectAll()
      .where('approver', '=', person)
      .where('state', '=', 'requested')
      .where('deadline', '>', now)
      .orderBy('deadline')
      .limit(200)
      .execute();
    return rows.map((r) => {
      const view = (JSON.parse(r.views) as Record<string, View>)[person];
      return {
        id: r.id,
        sessionId: r.session_id,
        stepId: r.step_id,
        requester: r.requester,
        approver: r.approver,
        state: 'requested' as const,
        deadline: new Date(Number(r.deadline)).toISOString(),
        createdAt: new Date(Number(r.created_at)).toISOString(),
        payloadHash: r.payload_hash,
        // Every approver in the chain has a view; a missing one shows nothing rather than guessing.
        payload: view?.text ?? '(not visible to you)',
        redactions: view?.redactions ?? [],
      };
    });
  }

  async forSession(sessionId: string): Promise<Array<{ id: string; stepId: string; state: ApprovalState; approver: string }>> {
    const rows = await this.d.db.selectFrom('mesh_approvals').select(['id', 'step_id', 'state', 'approver']).where('session_id', '=', sessionId).orderBy('created_at').execute();
    return rows.map((r) => ({ id: r.id, stepId: r.step_id, state: r.state as ApprovalState, approver: r.approver }));
  }

  private async firstApprover(requester: string, req: ApprovalCreate): Promise<string> {
    if (req.approver === 'manager') {
      const m = (await this.d.directory.managerChain(requester))[0];
      if (!m) throw new HttpError(422, `${requester} has no manager in the directory; name an approver or approverRole instead`);
      return m.id;
    }
    if (req.approver !== undefined) {
      const node = await this.d.directory.get(req.approver);
      if (node?.kind !== 'person') throw new HttpError(404, `approver "${req.approver}" is not a person in the directory`);
      return node.id;
    }
    let persons: string[];
    if (req.approverRole !== undefined) {
      persons = await this.d.directory.membersOfRole(req.approverRole);
    } else {
      try {
        persons = (await this.d.targets.resolve(req.target!)).persons;
      } catch (err) {
        if (err instanceof UnknownTargetError) throw new HttpError(404, err.message);
        throw err;
      }
    }
    persons = persons.filter((p) => p !== requester);
    if (persons.length === 0) throw new HttpError(422, `nobody but the requester can approve for "${req.approverRole ?? req.target}"; import the directory with a person holding that role`);
    // Prefer a member whose agent is online, then the one lowest in the org (has a manager to
    // escalate to); equals at random, so a role's approvals spread over its members instead of
    // all queueing at one person's agent (the bench's approval round-trip of 10 s).
    // One query for all members' agents; the chains come from the directory's node cache.
    const online = new Set((await this.d.agents.byPersons(persons)).filter((a) => Date.now() - a.lastSeen <= this.d.settings.offlineAfterMs).map((a) => a.person));
    // Chains at once: after the cache's lifetime each is a few reads again, and a role has many members.
    const depths = await Promise.all(persons.map(async (p) => (await this.d.directory.managerChain(p)).length));
    const scored = persons.map((p, i) => ({ p, online: online.has(p), depth: depths[i]!, r: Math.random() }));
    scored.sort((a, b) => Number(b.online) - Number(a.online) || b.depth - a.depth || a.r - b.r);
    return scored[0]!.p;
  }

  private async viewFor(person: string, payload: ApprovalCreate['payload'], mustSee: boolean): Promise<View> {
    const roles = await this.d.targets.rolesOfPerson(person);
    try {
      if (typeof payload === 'string') return this.d.boundary.maskFor(roles, payload);
      const m = this.d.boundary.maskJson(roles, payload);
      return { text: canonicalize(m.value) ?? '', redactions: [...m.redactions].map(([c, n]) => ({ class: c, count: n })) };
    } catch (err) {
      if (!(err instanceof BlockedByGuardError)) throw err;
      if (mustSee) throw new HttpError(422, `${err.message} (approver ${person})`);
      return { text: `(withheld: the payload carries ${err.dataClass}, which ${person}'s role policy blocks)`, redactions: [{ class: err.dataClass, count: 1 }] };
    }
  }

  /** Queues the request to the current approver's agents; returns their agent ids. */
  private async deliver(row: MeshApprovalRow, from: { person: string; role: string; agentId: string | null }, now: number): Promise<string[]> {
    const agents = await this.d.agents.byPerson(row.approver);
    const view = (JSON.parse(row.views) as Record<string, View>)[row.approver]!;
    const items = agents.map((a) => {
      const item: Omit<WorkItem, 'deliveryId' | 'leaseId' | 'leaseExpiresAt' | 'attempt'> = {
        kind: 'approval',
        from: { agentId: from.agentId, person: from.person, role: from.role },
        contextId: row.session_id,
        taskId: null,
        approvalId: row.id,
        task: { title: `approval: ${row.step_id}`, text: view.text },
        context: view.text,
        redactions: view.redactions,
        payloadHash: row.payload_hash,
        deadline: new Date(Number(row.deadline)).toISOString(),
      };
      return { id: `${ID_PREFIX.delivery}${randomUUID()}`, kind: 'approval', agentId: a.agentId, taskId: null, approvalId: row.id, payload: JSON.stringify(item) };
    });
    // Available from the real clock (a sweep may run with a test clock ahead of it).
    await this.d.queue.enqueue(items);
    for (const a of agents) this.d.wakeups.wake(a.agentId);
    return agents.map((a) => a.agentId);
  }

  private async event(row: MeshApprovalRow, actor: string, decision: ApprovalDecisionKind, notes: string | null, now: number): Promise<void> {
    // Every final transition passes here once (each is behind a compare-and-swap on the row).
    if (FINAL_DECISIONS.has(decision)) this.d.metrics?.recordApproval((now - Number(row.created_at)) / 1000, decision);
    await this.d.audit.approval(
      { id: randomUUID(), ts: new Date(now).toISOString(), sessionId: row.session_id, stepId: row.step_id, approver: actor, decision, notes },
      row.id,
    );
  }

  private async row(id: string): Promise<MeshApprovalRow> {
    const r = await this.d.db.selectFrom('mesh_approvals').selectAll().where('id', '=', id).executeTakeFirst();
    if (!r) throw new HttpError(404, `no approval ${id}`);
    return r;
  }

  private view(r: MeshApprovalRow, viewer: string): ApprovalStatus {
    const views = JSON.parse(r.views) as Record<string, View>;
    return {
      kind: 'approval',
      id: r.id,
      sessionId: r.session_id,
      stepId: r.step_id,
      state: r.state as ApprovalState,
      requester: r.requester,
      approver: r.approver,
      level: Number(r.level),
      chain: JSON.parse(r.chain) as string[],
      payloadHash: r.payload_hash,
      payload: views[viewer]?.text ?? '(not visible to you)',
      deadline: new Date(Number(r.deadline)).toISOString(),
      decidedBy: r.decided_by,
      notes: r.notes,
      createdAt: new Date(Number(r.created_at)).toISOString(),
      updatedAt: new Date(Number(r.updated_at)).toISOString(),
    };
  }
}
