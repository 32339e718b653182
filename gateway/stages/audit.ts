/**
 * Audit, in two stages that share one spool:
 *   - auditForwarded (request phase, placed right before forward): commits a `model.forwarded`
 *     event — who, which model, redaction classes and counts — before the first byte goes
 *     upstream, so a gateway killed mid-stream still leaves a trace. If the spool cannot be
 *     written the request is refused (503) rather than sent unaudited.
 *   - audit (response phase, last): after the response has been delivered, appends the
 *     completion — outcome, tokens and cost — which also closes the forwarded event.
 * Built only from ctx.caller, ctx.notes, ctx.upstream and the outcome, which never hold
 * prompt/response text or detected values.
 */
import type { RequestContext, RequestOutcome, Stage } from '../context.js';
import type { AuditFacts, AuditSpool } from '../audit/spool.js';
import { AUDIT_ACTIONS, type AuditResult } from '../../audit/event.js';
import { GatewayError } from '../errors.js';

export interface AuditStageDeps {
  spool: AuditSpool;
  /** Told about every new event (the shipper ships soon). */
  onAppend?: () => void;
  /** Tenant recorded for callers that never authenticated. */
  defaultTenantId: string;
}

/** What a finished request amounts to (action, result, reason): shared by the audit event and the request log line. */
export function classifyOutcome(ctx: RequestContext, outcome: Pick<RequestOutcome, 'status' | 'completed' | 'clientAborted' | 'error'>): { action: string; result: AuditResult; reason: string | null } {
  const caller = ctx.caller;
  const denied = ctx.notes.denied;
  let action: string = AUDIT_ACTIONS.call;
  let result: AuditResult = 'ok';
  let reason: string | null = null;
  if (denied) {
    action = 'policy.denied';
    result = 'denied';
    reason = `${denied.stage}: ${denied.reason}`;
  } else if (!caller && outcome.status === 401) {
    action = 'auth.denied';
    result = 'denied';
    reason = 'invalid or missing gateway token';
  } else if (outcome.clientAborted) {
    result = 'aborted';
    reason = 'client closed the connection';
  } else if (outcome.error || outcome.status >= 400 || !outcome.completed) {
    result = outcome.status === 403 ? 'denied' : 'error';
    reason = `HTTP ${outcome.status}${outcome.completed ? '' : ', incomplete'}`;
  }
  return { action, result, reason };
}

export function auditFacts(ctx: RequestContext, outcome: RequestOutcome, defaultTenantId: string, now = new Date()): AuditFacts {
  const caller = ctx.caller;
  const { action, result, reason } = classifyOutcome(ctx, outcome);
  const usage = ctx.notes.usage;
  const redactions = ctx.notes.redactions
    ? Object.entries(ctx.notes.redactions)
        .filter(([, count]) => count > 0)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([cls, count]) => ({ class: cls, count }))
    : [];
  return {
    ts: now.toISOString(),
    tenantId: caller?.tenantId ?? defaultTenantId,
    actor: caller ? { type: 'user', id: caller.userId, role: caller.role } : { type: 'anonymous', id: 'unauthenticated', role: null },
    action,
    target: ctx.upstream?.model ?? ctx.requestedModel ?? null,
    result,
    reason,
    policyVersion: ctx.policy?.version ?? null,
    redactions,
    cost: { tokens: usage ? usage.promptTokens + usage.completionTokens : 0, usd: ctx.notes.costUsd ?? 0 },
    // The OpenTelemetry trace id when tracing is on (it joins traces, logs and audit), else the request id.
    traceId: ctx.trace?.traceId ?? ctx.id,
    ...(caller?.sessionId ? { sessionId: caller.sessionId } : {}),
  };
}

/** The forwarded event: what is about to go upstream (the model after downshift), no outcome yet. */
export function forwardedFacts(ctx: RequestContext, defaultTenantId: string, now = new Date()): AuditFacts {
  const sent = ctx.body?.model;
  return {
    ...auditFacts(ctx, { status: 0, completed: false, clientAborted: false, totalMs: 0 }, defaultTenantId, now),
    action: AUDIT_ACTIONS.forwarded,
    target: typeof sent === 'string' ? sent : ctx.requestedModel ?? null,
    result: 'ok',
    reason: null,
    cost: { tokens: 0, usd: 0 },
  };
}

export function auditStages(deps: AuditStageDeps): { forwarded: Stage; completed: Stage } {
  // The forwarded event each request opened, for its completion to close.
  const opened = new WeakMap<RequestContext, string>();
  const forwarded: Stage = {
    name: 'auditForwarded',
    phase: 'request',
    async run(ctx: RequestContext) {
      if (ctx.route === 'models') return;
      let id: string;
      try {
        id = (await deps.spool.write(forwardedFacts(ctx, deps.defaultTenantId), { opensRequest: true, dropOnFailure: true })).id;
      } catch (err) {
        ctx.log.error({ err }, 'audit: the forwarded event could not be written; request refused');
        throw new GatewayError(503, 'The gateway cannot write its audit trail right now, so the request was not sent; try again shortly', 'server_error', 'audit_unavailable');
      }
      opened.set(ctx, id);
      deps.onAppend?.();
    },
  };
  const completed: Stage = {
    name: 'audit',
    phase: 'response',
    run(ctx: RequestContext) {
      // Listing models is not an auditable act; everything that reaches a model (or is refused) is.
      if (ctx.route === 'models') return;
      ctx.onFinish((outcome) => {
        let facts: AuditFacts;
        try {
          facts = auditFacts(ctx, outcome, deps.defaultTenantId);
        } catch (err) {
          ctx.log.error({ err }, 'audit: could not build the audit event');
          return;
        }
        const completes = opened.get(ctx);
        deps.spool.write(facts, completes ? { completes } : {}).then(
          () => deps.onAppend?.(),
          (err: unknown) => ctx.log.error({ err }, 'audit: the audit event was lost (recorded as a gap in the chain)'),
        );
      });
    },
  };
  return { forwarded, completed };
}

/** The completion stage alone (no forwarded event): for callers that build a pipeline by hand. */
export function auditStage(deps: AuditStageDeps): Stage {
  return auditStages(deps).completed;
}
