/** Approvals: request one (answers at once with a pending id), decide, withdraw, read, list your pending ones. */
import type { AreaPlugin } from '../plugins.js';
import { ADMIN_ROLE } from '../route-auth.js';
import { authErrorResponses } from '../http-errors.js';
import { ID, writeHeaders } from '../mesh/route-schemas.js';
import type { ApprovalCreate, ApprovalDecision } from '../../mesh/contracts.js';

const approvalParams = { type: 'object', required: ['approvalId'], properties: { approvalId: ID } } as const;
const errors = { 400: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' }, 409: { $ref: 'ErrorResponse#' }, 422: { $ref: 'ErrorResponse#' }, ...authErrorResponses } as const;

export const approvalRoutes: AreaPlugin = async (app, { services }) => {
  const flow = services.mesh.approvals;

  app.post<{ Body: ApprovalCreate }>('/api/v1/approvals', {
    schema: {
      tags: ['mesh'],
      summary: 'Request an approval from a role, a person or your manager; returns the pending approval at once',
      headers: writeHeaders,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['stepId', 'payload'],
        properties: {
          sessionId: ID,
          stepId: { type: 'string', minLength: 1, maxLength: 200 },
          approverRole: ID,
          approver: ID,
          target: ID,
          payload: { anyOf: [{ type: 'object', additionalProperties: true }, { type: 'string', minLength: 1, maxLength: 200_000 }] },
          deadline: { type: 'string', format: 'date-time' },
          deadlineSeconds: { type: 'number', exclusiveMinimum: 0, maximum: 30 * 86400 },
        },
      },
      response: { 201: { $ref: 'MeshApprovalStatus#' }, ...errors },
    },
  }, async (request, reply) => reply.code(201).send(await flow.create(request.caller!, request.body)));

  app.post<{ Params: { approvalId: string }; Body: ApprovalDecision }>('/api/v1/approvals/:approvalId/decision', {
    schema: {
      tags: ['mesh'],
      summary: 'Approve or deny (only the current approver; the first decision wins; bound to the payload hash)',
      headers: writeHeaders,
      params: approvalParams,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['decision', 'payloadHash'],
        properties: { decision: { enum: ['approved', 'denied'] }, payloadHash: { type: 'string', pattern: '^[0-9a-f]{64}$' }, notes: { type: 'string', maxLength: 2000 } },
      },
      response: { 200: { $ref: 'MeshApprovalStatus#' }, ...errors },
    },
  }, async (request) => flow.decide(request.caller!, request.params.approvalId, request.body));

  app.post<{ Params: { approvalId: string } }>('/api/v1/approvals/:approvalId/withdraw', {
    schema: {
      tags: ['mesh'],
      summary: 'Withdraw a pending approval you requested',
      headers: writeHeaders,
      params: approvalParams,
      response: { 200: { $ref: 'MeshApprovalStatus#' }, ...errors },
    },
  }, async (request) => flow.withdraw(request.caller!, request.params.approvalId));

  app.get('/api/v1/approvals/inbox', {
    schema: {
      tags: ['mesh'],
      summary: 'Approvals you may decide now, each payload masked by the Privacy Guard under your role policy',
      description: 'The approver of a request is one person (named, the requester\'s manager, or the member of the approver role picked when it was requested; escalation moves it up the chain), so a request shows in exactly one inbox at a time. Decide with POST /api/v1/approvals/{approvalId}/decision quoting payloadHash.',
      response: {
        200: {
          type: 'object',
          required: ['approvals'],
          properties: {
            approvals: {
              type: 'array',
              items: {
                type: 'object',
                required: ['id', 'sessionId', 'stepId', 'requester', 'approver', 'state', 'deadline', 'createdAt', 'payloadHash', 'payload', 'redactions'],
                properties: {
                  id: { type: 'string' },
                  sessionId: { type: 'string' },
                  stepId: { type: 'string' },
                  requester: { type: 'string' },
                  approver: { type: 'string' },
                  state: { const: 'requested' },
                  deadline: { type: 'string' },
                  createdAt: { type: 'string' },
                  payloadHash: { type: 'string' },
                  payload: { type: 'string' },
                  redactions: { type: 'array', items: { type: 'object', required: ['class', 'count'], properties: { class: { type: 'string' }, count: { type: 'integer' } } } },
                },
              },
            },
          },
        },
        ...authErrorResponses,
      },
    },
  }, async (request) => ({ approvals: await flow.inboxFor(request.caller!.subject) }));

  app.get<{ Params: { approvalId: string } }>('/api/v1/approvals/:approvalId', {
    schema: { tags: ['mesh'], summary: 'One approval, with the payload masked for you', params: approvalParams, response: { 200: { $ref: 'MeshApprovalStatus#' }, ...errors } },
  }, async (request) => flow.statusFor(request.caller!, request.params.approvalId, request.caller!.roles.includes(ADMIN_ROLE)));

  app.get('/api/v1/approvals', {
    schema: {
      tags: ['mesh'],
      summary: 'Approvals waiting for you',
      response: { 200: { type: 'object', required: ['approvals'], properties: { approvals: { type: 'array', items: { $ref: 'MeshApprovalStatus#' } } } }, ...authErrorResponses },
    },
  }, async (request) => ({ approvals: await flow.pendingFor(request.caller!.subject) }));
};
