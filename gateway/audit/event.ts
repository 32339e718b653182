/**
 * The audit event: what happened, to whom, at what cost — never prompt or response text and
 * never a detected value. Events form one hash chain per gateway (chainId), linked by hashPrev.
 * Shared by the gateway (writer), the controller (ingest checks) and `switchboard audit verify`.
 */
import { createHash } from 'node:crypto';
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
  return createHash('sha256').update(event.hashPrev).update(canonicalEventJson(event)).digest('hex');
}

export function sealEvent(event: UnhashedEvent): AuditEvent {
  return { ...event, hash: computeEventHash(event) };
}

const hex64 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
const nullableString = { type: ['string', 'null'], maxLength: 512 } as const;

/** JSON Schema for one event, used on ingest and when reading export files. */
export const auditEventSchema = {
  $id: 'switchboard-audit-event',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'ts', 'chainId', 'seq', 'tenantId', 'actor', 'action', 'target', 'result', 'reason', 'policyVersion', 'redactions', 'cost', 'traceId', 'hashPrev', 'hash'],
  properties: {
    id: { type: 'string', minLength: 1, maxLength: 128 },
    ts: { type: 'string', format: 'date-time' },
    chainId: { type: 'string', minLength: 1, maxLength: 128 },
    seq: { type: 'integer', minimum: 1 },
    tenantId: { type: 'string', minLength: 1, maxLength: 128 },
    actor: {
      type: 'object',
      additionalProperties: false,
      required: ['type', 'id', 'role'],
      properties: {
        type: { enum: ['user', 'agent', 'gateway', 'anonymous'] },
        id: { type: 'string', minLength: 1, maxLength: 256 },
        role: nullableString,
      },
    },
    action: { type: 'string', minLength: 1, maxLength: 128 },
    target: nullableString,
    result: { enum: ['ok', 'error', 'denied', 'aborted'] },
    reason: nullableString,
    policyVersion: nullableString,
    redactions: {
      type: 'array',
      maxItems: 100,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['class', 'count'],
        properties: { class: { type: 'string', minLength: 1, maxLength: 64 }, count: { type: 'integer', minimum: 0 } },
      },
    },
    cost: {
      type: 'object',
      additionalProperties: false,
      required: ['tokens', 'usd'],
      properties: { tokens: { type: 'integer', minimum: 0 }, usd: { type: 'number', minimum: 0 } },
    },
    traceId: { type: 'string', minLength: 1, maxLength: 128 },
    hashPrev: hex64,
    hash: hex64,
  },
} as const;
