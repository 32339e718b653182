/**
 * audit (response phase, last): after the response has been delivered, appends one hash-chained
 * AuditEvent per model call to the spool — who, which model, outcome, redaction classes and
 * counts, tokens and cost. Built only from ctx.caller, ctx.notes, ctx.upstream and the outcome,
 * which never hold prompt/response text or detected values.
 */
import type { RequestContext, RequestOutcome, Stage } from '../context.js';
import type { AuditFacts, AuditSpool } from '../audit/spool.js';
import type { AuditResult } from '../audit/event.js';

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
  let action = 'model.call';
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
  };
}

export function auditStage(deps: AuditStageDeps): Stage {
  return {
    name: 'audit',
    phase: 'response',
    run(ctx: RequestContext) {
      // Listing models is not an auditable act; everything that reaches a model (or is refused) is.
      if (ctx.route === 'models') return;
      ctx.onFinish((outcome) => {
        try {
          deps.spool.enqueue(auditFacts(ctx, outcome, deps.defaultTenantId), deps.onAppend);
        } catch (err) {
          ctx.log.error({ err }, 'audit: could not spool the audit event');
        }
      });
    },
  };
}
