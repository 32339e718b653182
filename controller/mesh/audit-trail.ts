/**
 * The mesh's entries in the audit chain. Each controller process writes its own hash chain
 * (`mesh-<uuid>`, owner `controller:mesh`) in the audit store, so two controller processes never
 * race for one chain head and `switchboard audit verify` checks mesh events like any others.
 *
 * Appends are group-committed: events that arrive while a write is in flight wait and go
 * together in the next one (one transaction, one commit), so the chain keeps up with the request
 * rate instead of queueing one database commit per event behind each other — that queue made
 * routing take seconds at 30 req/s (docs/agent-mesh.md, "Scale and speed"). Each caller's promise
 * still resolves only once its event is stored, so an answer never gets ahead of its audit record.
 *
 * RouteEvent and ApprovalEvent map onto the audit event (audit/event.ts):
 *   RouteEvent {id, ts, taskId, fromAgent, toAgent[], policyEval, reason}
 *     → action "mesh.route", actor = fromAgent, target "task <taskId> -> <toAgent,…>",
 *       result ok|denied (policyEval.allow), policyVersion, reason "<reason> [policies]", traceId = taskId
 *   ApprovalEvent {id, ts, sessionId, stepId, approver, decision, notes}
 *     → action "mesh.approval.<decision>", actor = approver, target "approval <id> session <s> step <step>",
 *       reason = notes (masked), traceId = approval id
 * A request's Idempotency-Key answer may be passed with its event (`answer`): it is stored in the
 * same write as the event (decision 0079), so it exists exactly when the event does.
 *
 * Every event carries its cost ({tokens, usd}); mesh bookkeeping costs 0, task results carry
 * what the worker reported. No event holds a context or payload value: classes and counts only.
 */
import { randomUUID } from 'node:crypto';
import { GENESIS_HASH, sealEvent, type AuditEvent, type AuditResult } from '../../audit/event.js';
import type { AuditRepository } from '../audit/repository.js';
import type { IdempotencyAnswer } from '../idempotency/hook.js';
import type { Cost } from '../../mesh/contracts.js';

export const MESH_AUDIT_WRITER = 'controller:mesh';
export const MESH_TENANT = 'default';

export interface PolicyEval {
  allow: boolean;
  policyVersion: string;
  policies: readonly string[];
}

export interface RouteEvent {
  id: string;
  ts: string;
  taskId: string;
  fromAgent: string;
  fromRole: string | null;
  toAgent: string[];
  policyEval: PolicyEval;
  reason: string;
  redactions?: Array<{ class: string; count: number }>;
}

export type ApprovalDecisionKind = 'requested' | 'approved' | 'denied' | 'escalated' | 'expired' | 'withdrawn';

export interface ApprovalEvent {
  id: string;
  ts: string;
  sessionId: string;
  stepId: string;
  approver: string;
  decision: ApprovalDecisionKind;
  notes: string | null;
  policyVersion?: string | null;
}

export interface MeshActivity {
  action: string;
  actor: { id: string; role: string | null };
  target: string;
  result: AuditResult;
  reason: string | null;
  traceId: string;
  cost?: Cost;
  redactions?: Array<{ class: string; count: number }>;
  policyVersion?: string | null;
}

type PendingEvent = Omit<Parameters<typeof sealEvent>[0], 'chainId' | 'seq' | 'hashPrev' | 'tenantId'>;

/** At most this many events in one write (one statement's worth on SQLite). */
const MAX_BATCH = 500;

export class MeshAuditTrail {
  readonly chainId = `mesh-${randomUUID()}`;
  private seq = 0;
  private head = GENESIS_HASH;
  private pending: Array<{ e: PendingEvent; answer: IdempotencyAnswer | undefined; resolve: (ev: AuditEvent) => void; reject: (err: unknown) => void }> = [];
  private writing: Promise<void> | undefined;

  constructor(private readonly repo: AuditRepository) {}

  route(e: RouteEvent, answer?: IdempotencyAnswer): Promise<AuditEvent> {
    const policies = e.policyEval.policies.length ? ` [${e.policyEval.policies.join(', ')}]` : '';
    return this.append({
      id: e.id,
      ts: e.ts,
      action: 'mesh.route',
      actor: { id: e.fromAgent, role: e.fromRole },
      target: clip(`task ${e.taskId} -> ${e.toAgent.join(',') || '(none)'}`),
      result: e.policyEval.allow ? 'ok' : 'denied',
      reason: clip(`${e.reason}${policies}`),
      traceId: e.taskId,
      policyVersion: e.policyEval.policyVersion,
      redactions: e.redactions ?? [],
    }, answer);
  }

  approval(e: ApprovalEvent, approvalId: string): Promise<AuditEvent> {
    return this.append({
      id: e.id,
      ts: e.ts,
      action: `mesh.approval.${e.decision}`,
      actor: { id: e.approver, role: null },
      target: clip(`approval ${approvalId} session ${e.sessionId} step ${e.stepId}`),
      result: e.decision === 'denied' || e.decision === 'expired' ? 'denied' : 'ok',
      reason: e.notes === null ? null : clip(e.notes),
      traceId: approvalId,
      policyVersion: e.policyVersion ?? null,
      redactions: [],
    });
  }

  activity(a: MeshActivity, answer?: IdempotencyAnswer): Promise<AuditEvent> {
    return this.append({
      id: randomUUID(),
      ts: new Date().toISOString(),
      action: a.action,
      actor: a.actor,
      target: clip(a.target),
      result: a.result,
      reason: a.reason === null ? null : clip(a.reason),
      traceId: a.traceId,
      policyVersion: a.policyVersion ?? null,
      redactions: a.redactions ?? [],
      cost: a.cost,
    }, answer);
  }

  /** Resolves once every append queued so far is stored (or has failed). */
  async flush(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private append(e: {
    id: string;
    ts: string;
    action: string;
    actor: { id: string; role: string | null };
    target: string;
    result: AuditResult;
    reason: string | null;
    traceId: string;
    policyVersion: string | null;
    redactions: Array<{ class: string; count: number }>;
    cost?: Cost | undefined;
  }, answer?: IdempotencyAnswer): Promise<AuditEvent> {
    const event: PendingEvent = {
      id: e.id,
      ts: e.ts,
      actor: { type: 'agent', id: e.actor.id, role: e.actor.role },
      action: e.action,
      target: e.target,
      result: e.result,
      reason: e.reason,
      policyVersion: e.policyVersion,
      redactions: e.redactions,
      cost: { tokens: e.cost?.tokens ?? 0, usd: e.cost?.usd ?? 0 },
      traceId: e.traceId,
    };
    return new Promise<AuditEvent>((resolve, reject) => {
      this.pending.push({ e: event, answer, resolve, reject });
      if (!this.writing) this.writing = this.drain();
    });
  }

  /** Writes what is pending, batch after batch, until nothing is; one write at a time keeps the chain linear. */
  private async drain(): Promise<void> {
    try {
      while (this.pending.length) {
        const batch = this.pending.splice(0, MAX_BATCH);
        const sealed: AuditEvent[] = [];
        let seq = this.seq;
        let head = this.head;
        for (const p of batch) {
          const ev = sealEvent({ ...p.e, chainId: this.chainId, seq: seq + 1, tenantId: MESH_TENANT, hashPrev: head });
          sealed.push(ev);
          seq = ev.seq;
          head = ev.hash;
        }
        try {
          await this.repo.appendOwnChain(sealed, MESH_AUDIT_WRITER, Date.now(), batch.flatMap((p) => (p.answer ? [p.answer] : [])));
        } catch (err) {
          // Nothing of the batch is stored: the chain head stays where it was, and each caller fails.
          for (const p of batch) p.reject(err);
          continue;
        }
        this.seq = seq;
        this.head = head;
        batch.forEach((p, i) => p.resolve(sealed[i]!));
      }
    } finally {
      this.writing = undefined;
    }
  }
}

function clip(s: string): string {
  return s.length > 500 ? `${s.slice(0, 497)}...` : s;
}
