/** Sessions: open one with participants and a scope, hand off within it, read its aggregate state. */
import type { AreaPlugin } from '../plugins.js';
import { ADMIN_ROLE } from '../route-auth.js';
import { authErrorResponses } from '../http-errors.js';
import { ID, writeHeaders } from '../mesh/route-schemas.js';
import type { HandoffRequest, SessionCreate } from '../../mesh/contracts.js';

const sessionParams = { type: 'object', required: ['sessionId'], properties: { sessionId: ID } } as const;
const errors = { 400: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' }, 409: { $ref: 'ErrorResponse#' }, 422: { $ref: 'ErrorResponse#' }, ...authErrorResponses } as const;

export const sessionRoutes: AreaPlugin = async (app, { services }) => {
  const book = services.mesh.sessions;

  app.post<{ Body: SessionCreate }>('/api/v1/sessions', {
    schema: {
      tags: ['mesh'],
      summary: 'Open a session (an A2A context) with participants and a scope',
      headers: writeHeaders,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['participants', 'scope'],
        properties: { participants: { type: 'array', minItems: 1, maxItems: 50, items: ID }, scope: { type: 'string', minLength: 1, maxLength: 2000 } },
      },
      response: { 201: { $ref: 'MeshSessionStatus#' }, ...errors },
    },
  }, async (request, reply) => reply.code(201).send(await book.create(request.caller!, request.body)));

  app.patch<{ Params: { sessionId: string }; Body: HandoffRequest }>('/api/v1/sessions/:sessionId/handoff', {
    schema: {
      tags: ['mesh'],
      summary: "Hand the session's next step to a role, person or agent; the context is masked for the receiver",
      headers: writeHeaders,
      params: sessionParams,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['to', 'task'],
        properties: {
          to: ID,
          task: { $ref: 'MeshTaskSpec#' },
          context: { type: 'string', maxLength: 200_000 },
          stepId: { type: 'string', minLength: 1, maxLength: 200 },
          messageId: { type: 'string', minLength: 1, maxLength: 200 },
        },
      },
      response: { 202: { $ref: 'MeshRouteAccepted#' }, ...errors },
    },
  }, async (request, reply) =>
    reply.code(202).send(await book.handoff(request.caller!, request.params.sessionId, request.body, request.caller!.roles.includes(ADMIN_ROLE))),
  );

  app.get<{ Params: { sessionId: string } }>('/api/v1/sessions/:sessionId', {
    schema: {
      tags: ['mesh'],
      summary: 'A session: participants, tasks, approvals, and the context shards you may see',
      params: sessionParams,
      response: { 200: { $ref: 'MeshSessionStatus#' }, ...errors },
    },
  }, async (request) => book.status(request.caller!, request.params.sessionId, request.caller!.roles.includes(ADMIN_ROLE)));
};
