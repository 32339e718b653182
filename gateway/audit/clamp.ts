/**
 * Makes the facts of an event fit the audit schema before it is sealed: over-long text is cut
 * (marked with "…"), empty ids get a placeholder, counts and costs become finite non-negative
 * numbers. Without this one odd request (a 600-character model id) would make an event the
 * controller refuses, and the chain behind it would stop shipping.
 */
import { FIELD_LIMITS } from '../../audit/event.js';
import type { AuditFacts } from './spool.js';

const ELLIPSIS = '…';

function cut(value: string, max: number): string {
  if (value.length <= max) return value;
  // Never split a surrogate pair: the cut text must stay valid UTF-16 (and so valid JSON text).
  let end = max - ELLIPSIS.length;
  const code = value.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--;
  return value.slice(0, end) + ELLIPSIS;
}

function required(value: string, max: number, placeholder: string): string {
  return value.length === 0 ? placeholder : cut(value, max);
}

function optional(value: string | null, max: number): string | null {
  return value === null ? null : cut(value, max);
}

function count(n: number): number {
  return Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
}

export function clampFacts(f: AuditFacts): AuditFacts {
  return {
    ts: f.ts,
    tenantId: required(f.tenantId, FIELD_LIMITS.tenantId, 'unknown'),
    actor: { type: f.actor.type, id: required(f.actor.id, FIELD_LIMITS.actorId, 'unknown'), role: optional(f.actor.role, FIELD_LIMITS.text) },
    action: required(f.action, FIELD_LIMITS.action, 'unknown'),
    target: optional(f.target, FIELD_LIMITS.text),
    result: f.result,
    reason: optional(f.reason, FIELD_LIMITS.text),
    policyVersion: optional(f.policyVersion, FIELD_LIMITS.text),
    redactions: f.redactions
      .filter((r) => r.class.length > 0)
      .slice(0, FIELD_LIMITS.redactions)
      .map((r) => ({ class: cut(r.class, FIELD_LIMITS.redactionClass), count: count(r.count) })),
    cost: { tokens: count(f.cost.tokens), usd: Number.isFinite(f.cost.usd) && f.cost.usd > 0 ? f.cost.usd : 0 },
    traceId: required(f.traceId, FIELD_LIMITS.traceId, 'unknown'),
    ...(f.sessionId ? { sessionId: cut(f.sessionId, 128) } : {}),
  };
}
