/**
 * JSON schemas of the mesh API bodies (validation + OpenAPI), one place for the shapes that
 * several mesh plugins answer with. They mirror mesh/contracts.ts.
 */
import { APPROVAL_STATES, SEVERITIES, TASK_STATES } from '../../mesh/contracts.js';

export const ID = { type: 'string', minLength: 1, maxLength: 200, pattern: '^[A-Za-z0-9][A-Za-z0-9._:@-]*$' } as const;
const str = (max: number) => ({ type: 'string', maxLength: max }) as const;
const nullable = (max: number) => ({ type: ['string', 'null'], maxLength: max }) as const;
const redactions = {
  type: 'array',
  items: { type: 'object', required: ['class', 'count'], properties: { class: { type: 'string' }, count: { type: 'integer' } } },
} as const;
const freeObject = { type: 'object', additionalProperties: true } as const;
const party = {
  type: 'object',
  required: ['agentId', 'person', 'role'],
  properties: { agentId: { type: ['string', 'null'] }, person: { type: 'string' }, role: { type: 'string' } },
} as const;

export const taskSpecSchema = {
  $id: 'MeshTaskSpec',
  type: 'object',
  additionalProperties: false,
  required: ['title'],
  properties: {
    title: { type: 'string', minLength: 1, maxLength: 500 },
    text: str(200_000),
    data: freeObject,
  },
} as const;

export const policyHintsSchema = {
  $id: 'MeshPolicyHints',
  type: 'object',
  additionalProperties: false,
  properties: {
    role: ID,
    skills: { type: 'array', maxItems: 20, items: ID },
    locale: { type: 'string', pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$' },
    fanout: { type: 'integer', minimum: 1, maximum: 50 },
    dataClass: { type: 'string', pattern: '^[A-Z][A-Z0-9_]{0,63}$' },
  },
} as const;

export const artifactSchema = {
  $id: 'MeshArtifact',
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1, maxLength: 200 }, text: str(1_000_000), data: freeObject },
} as const;

export const costSchema = {
  $id: 'MeshCost',
  type: 'object',
  additionalProperties: false,
  required: ['tokens', 'usd'],
  properties: { tokens: { type: 'integer', minimum: 0 }, usd: { type: 'number', minimum: 0 } },
} as const;

export const workItemSchema = {
  $id: 'MeshWorkItem',
  type: 'object',
  required: ['deliveryId', 'leaseId', 'leaseExpiresAt', 'attempt', 'kind', 'from', 'contextId', 'taskId', 'approvalId', 'task', 'context', 'redactions'],
  properties: {
    deliveryId: { type: 'string' },
    leaseId: { type: 'string' },
    leaseExpiresAt: { type: 'string' },
    attempt: { type: 'integer' },
    kind: { enum: ['task', 'approval', 'notification'] },
    from: party,
    contextId: { type: ['string', 'null'] },
    taskId: { type: ['string', 'null'] },
    approvalId: { type: ['string', 'null'] },
    task: { type: 'object', required: ['title'], properties: { title: { type: 'string' }, text: { type: 'string' }, data: freeObject } },
    context: { type: ['string', 'null'] },
    redactions,
    payloadHash: { type: 'string' },
    deadline: { type: 'string' },
    severity: { enum: SEVERITIES },
  },
} as const;

export const taskStatusSchema = {
  $id: 'MeshTaskStatus',
  type: 'object',
  required: ['kind', 'id', 'contextId', 'state', 'title', 'from', 'targets', 'createdAt', 'updatedAt'],
  properties: {
    kind: { const: 'task' },
    id: { type: 'string' },
    contextId: { type: 'string' },
    state: { enum: TASK_STATES },
    title: { type: 'string' },
    from: party,
    targets: {
      type: 'array',
      items: {
        type: 'object',
        required: ['agentId', 'role', 'state', 'message', 'artifacts', 'attempts'],
        properties: {
          agentId: { type: 'string' },
          role: { type: 'string' },
          state: { enum: TASK_STATES },
          message: nullable(1_000_000),
          artifacts: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, text: { type: 'string' }, data: freeObject } } },
          attempts: { type: 'integer' },
        },
      },
    },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

export const approvalStatusSchema = {
  $id: 'MeshApprovalStatus',
  type: 'object',
  required: ['kind', 'id', 'sessionId', 'stepId', 'state', 'requester', 'approver', 'level', 'chain', 'payloadHash', 'payload', 'deadline', 'decidedBy', 'notes', 'createdAt', 'updatedAt'],
  properties: {
    kind: { const: 'approval' },
    id: { type: 'string' },
    sessionId: { type: 'string' },
    stepId: { type: 'string' },
    state: { enum: APPROVAL_STATES },
    requester: { type: 'string' },
    approver: { type: 'string' },
    level: { type: 'integer' },
    chain: { type: 'array', items: { type: 'string' } },
    payloadHash: { type: 'string' },
    payload: { type: 'string' },
    deadline: { type: 'string' },
    decidedBy: { type: ['string', 'null'] },
    notes: { type: ['string', 'null'] },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

export const sessionStatusSchema = {
  $id: 'MeshSessionStatus',
  type: 'object',
  required: ['kind', 'id', 'scope', 'state', 'createdBy', 'participants', 'tasks', 'approvals', 'shards', 'createdAt', 'updatedAt'],
  properties: {
    kind: { const: 'session' },
    id: { type: 'string' },
    scope: { type: 'string' },
    state: { enum: ['active', 'completed'] },
    createdBy: { type: 'string' },
    participants: { type: 'array', items: { type: 'string' } },
    tasks: {
      type: 'array',
      items: { type: 'object', required: ['id', 'title', 'state', 'targets'], properties: { id: { type: 'string' }, title: { type: 'string' }, state: { enum: TASK_STATES }, targets: { type: 'array', items: { type: 'string' } } } },
    },
    approvals: {
      type: 'array',
      items: { type: 'object', required: ['id', 'stepId', 'state', 'approver'], properties: { id: { type: 'string' }, stepId: { type: 'string' }, state: { enum: APPROVAL_STATES }, approver: { type: 'string' } } },
    },
    shards: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'fromRole', 'audienceRole', 'text', 'redactions', 'createdAt'],
        properties: { id: { type: 'string' }, fromRole: { type: 'string' }, audienceRole: { type: 'string' }, text: { type: 'string' }, redactions, createdAt: { type: 'string' } },
      },
    },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

export const routeAcceptedSchema = {
  $id: 'MeshRouteAccepted',
  type: 'object',
  required: ['taskId', 'contextId', 'state', 'targets', 'policyVersion', 'duplicate'],
  properties: {
    taskId: { type: 'string' },
    contextId: { type: 'string' },
    state: { enum: TASK_STATES },
    targets: {
      type: 'array',
      items: {
        type: 'object',
        required: ['agentId', 'person', 'role', 'online', 'deliveryId'],
        properties: { agentId: { type: 'string' }, person: { type: 'string' }, role: { type: 'string' }, online: { type: 'boolean' }, deliveryId: { type: 'string' } },
      },
    },
    policyVersion: { type: 'string' },
    duplicate: { type: 'boolean' },
  },
} as const;

/** Added once, by the first mesh plugin (controller/plugins.ts order), at the root so every plugin can $ref them. */
export const meshSharedSchemas = [taskSpecSchema, policyHintsSchema, artifactSchema, costSchema, workItemSchema, taskStatusSchema, approvalStatusSchema, sessionStatusSchema, routeAcceptedSchema];

export const writeHeaders = {
  type: 'object',
  properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 200, description: 'repeat a write safely: the same key returns the first answer' } },
} as const;
