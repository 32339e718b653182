/**
 * The audit event: what happened, to whom, at what cost — never prompt or response text and
 * never a detected value. Events form one hash chain per gateway (chainId), linked by hashPrev.
 * Shared by the gateway (writer), the controller (ingest checks) and `switchboard audit verify`.
 */
import { hash } from 'node:crypto';
import canonicalize from 'canonicalize';

export type ActorType = 'user' | 'agent' | 'gateway' | 'anonymous';
export type AuditResult = 'ok' | 'error' | 'denied' | 'aborted';

export interface AuditEvent {
  /** Globally unique; the ingest idempotency key. */
  id: string;
  /** ISO-8601 UTC time the request finished. */
  ts: string;
  /** The writer's chain (one per gateway). */
  chainId: string;
  /** 1-based position in the chain; consecutive without gaps. */
  seq: number;
  tenantId: string;
  actor: { type: ActorType; id: string; role: string | null };
  /** e.g. model.call, policy.denied, auth.denied */
  action: string;
  /** What was acted on (the model actually used, or the route). */
  target: string | null;
  result: AuditResult;
  /** Non-sensitive reason for a denial or error (never a detected value). */
  reason: string | null;
  /** Policy (bundle) version in force. */
  policyVersion: string | null;
  /** Privacy Guard findings: class and count only. */
  redactions: Array<{ class: string; count: number }>;
  cost: { tokens: number; usd: number };
  /** Request id, to join with logs and traces. */
  traceId: string;
  /** The agent's session id (Goose `agent-session-id` / `goose-session-id`); absent when none was sent. */
  sessionId?: string;
  /** Hash of the previous event in this chain; GENESIS_HASH for the first. */
  hashPrev: string;
  /** SHA-256 (hex) over hashPrev and the canonical JSON of every other field. */
  hash: string;
}

export type UnhashedEvent = Omit<AuditEvent, 'hash'>;

export const GENESIS_HASH = '0'.repeat(64);

/** RFC 8785 canonical JSON of the event without its own hash field. */
export function canonicalEventJson(event: UnhashedEvent | AuditEvent): string {
  const { hash: _omit, ...rest } = event as AuditEvent;
  const text = canonicalize(rest);
  if (text === undefined) throw new Error('audit event is not serialisable');
  return text;
}

export function computeEventHash(event: UnhashedEvent | AuditEvent): string {
  // One-shot: the same digest as a Hash object fed hashPrev then the JSON, without building one per event.
  return hash('sha256', `${event.hashPrev}${canonicalEventJson(event)}`, 'hex');
}

export function sealEvent(event: UnhashedEvent): AuditEvent {
  return { ...event, hash: computeEventHash(event) };
}

/**
 * Longest accepted text per field. The spool clamps to these before an event is sealed (see
 * clamp.ts), so the controller, which validates with the same schema, never refuses one.
 */
export const FIELD_LIMITS = {
  id: 128,
  chainId: 128,
  tenantId: 128,
  actorId: 256,
  action: 128,
  /** target, reason, policyVersion, actor.role */
  text: 512,
  traceId: 128,
  redactionClass: 64,
  redactions: 100,
} as const;

const hex64 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
const nullableString = { type: ['string', 'null'], maxLength: FIELD_LIMITS.text } as const;

/** JSON Schema for one event, used on ingest and when reading export files. */
export const auditEventSchema = {
  $id: 'switchboard-audit-event',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'ts', 'chainId', 'seq', 'tenantId', 'actor', 'action', 'target', 'result', 'reason', 'policyVersion', 'redactions', 'cost', 'traceId', 'hashPrev', 'hash'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: FIELD_LIMITS.id },
    ts: { type: 'string', format: 'date-time' },
    chainId: { type: 'string', minLength: 1, maxLength: FIELD_LIMITS.chainId },
    seq: { type: 'integer', minimum: 1 },
    tenantId: { type: 'string', minLength: 1, maxLength: FIELD_LIMITS.tenantId },
    actor: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'id', 'role'],
      properties: {
        type: { enum: ['user', 'agent', 'gateway', 'anonymous'] },
        id: { type: 'string', minLength: 1, maxLength: FIELD_LIMITS.actorId },
        role: nullableString,
      },
    },
    action: { type: 'string', minLength: 1, maxLength: FIELD_LIMITS.action },
    target: nullableString,
    result: { enum: ['ok', 'error', 'denied', 'aborted'] },
    reason: nullableString,
    policyVersion: nullableString,
    redactions: {
      type: 'array',
      maxItems: FIELD_LIMITS.redactions,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['class', 'count'],
        properties: { class: { type: 'string', minLength: 1, maxLength: FIELD_LIMITS.redactionClass }, count: { type: 'integer', minimum: 0 } },
      },
    },
    cost: {
      type: 'object',
      additionalProperties: false,
      required: ['tokens', 'usd'],
      properties: { tokens: { type: 'integer', minimum: 0 }, usd: { type: 'number', minimum: 0 } },
    },
    traceId: { type: 'string', minLength: 1, maxLength: FIELD_LIMITS.traceId },
    sessionId: { type: 'string', minLength: 1, maxLength: 128 },
    hashPrev: hex64,
    hash: hex64,
  },
} as const;

/** Actions the audit trail itself writes, besides what the pipeline records (model.call, policy.denied, auth.denied). */
export const AUDIT_ACTIONS = {
  /** Written and committed before the first byte goes upstream: classes and counts, never values. */
  forwarded: 'model.forwarded',
  /** The completion of a forwarded request (or a request answered without the upstream). */
  call: 'model.call',
  /** A forwarded request whose completion was never recorded (the gateway stopped mid-request). */
  interrupted: 'model.interrupted',
  /** Events that were really lost (could not be written); `reason` says how many and why. */
  gap: 'audit.gap',
  /** An event that failed the schema even after clamping; stands in for it so nothing vanishes. */
  invalid: 'audit.invalid',
} as const;
