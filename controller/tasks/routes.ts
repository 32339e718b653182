/** Tasks: route one to other roles' agents, report progress and results, cancel. */
import type { AreaPlugin } from '../plugins.js';
import { ADMIN_ROLE } from '../route-auth.js';
import { authErrorResponses } from '../http-errors.js';
import { ID, writeHeaders } from '../mesh/route-schemas.js';
import { answerInLastWrite, sendStored } from '../idempotency/hook.js';
import type { RouteRequest, TaskProgress, TaskResult } from '../../mesh/contracts.js';

const taskParams = { type: 'object', required: ['taskId'], properties: { taskId: ID } } as const;
const errors = { 400: { $ref: 'ErrorResponse#' }, 404: { $ref: 'ErrorResponse#' }, 409: { $ref: 'ErrorResponse#' }, 422: { $ref: 'ErrorResponse#' }, ...authErrorResponses } as const;

export const taskRoutes: AreaPlugin = async (app, { services }) => {
  const router = services.mesh.router;

  app.post<{ Body: RouteRequest }>('/api/v1/tasks/route', {
    schema: {
      tags: ['mesh'],
      summary: 'Route a task to agents by role, skill, load and locale (Cedar check first); answers with the task id at once',
      headers: writeHeaders,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['task'],
        properties: {
          target: ID,
          task: { $ref: 'MeshTaskSpec#' },
          context: { type: 'string', maxLength: 200_000 },
          policyHints: { $ref: 'MeshPolicyHints#' },
          messageId: { type: 'string', minLength: 1, maxLength: 200 },
          contextId: ID,
          fromAgent: ID,
        },
      },
      response: { 202: { $ref: 'MeshRouteAccepted#' }, ...errors },
    },
  }, async (request, reply) => {
    // The Idempotency-Key answer is stored with the RouteEvent, in one write (decision 0079).
    const stored = answerInLastWrite(request, reply, 202);
    const { maskedContextByRole: _m, ...accepted } = await router.route(request.caller!, request.body, Date.now(), stored?.of);
    return stored?.body !== undefined ? sendStored(reply, 202, stored.body) : reply.code(202).send(accepted);
  });

  app.post<{ Params: { taskId: string }; Body: TaskProgress }>('/api/v1/tasks/:taskId/progress', {
    schema: {
      tags: ['mesh'],
      summary: 'Report progress on a task you hold (extends your lease)',
      headers: writeHeaders,
      params: taskParams,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['leaseId', 'state'],
        properties: { leaseId: { type: 'string', minLength: 1, maxLength: 100 }, state: { enum: ['working', 'input-required'] }, message: { type: 'string', maxLength: 100_000 } },
      },
      response: { 200: { $ref: 'MeshTaskStatus#' }, ...errors },
    },
  }, async (request) => router.progress(request.caller!, request.params.taskId, request.body));

  app.post<{ Params: { taskId: string }; Body: TaskResult }>('/api/v1/tasks/:taskId/result', {
    schema: {
      tags: ['mesh'],
      summary: 'Finish a task you hold: completed, failed or rejected, with artifacts and cost',
      headers: writeHeaders,
      params: taskParams,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['leaseId', 'state'],
        properties: {
          leaseId: { type: 'string', minLength: 1, maxLength: 100 },
          state: { enum: ['completed', 'failed', 'rejected'] },
          message: { type: 'string', maxLength: 100_000 },
          artifacts: { type: 'array', maxItems: 50, items: { $ref: 'MeshArtifact#' } },
          cost: { $ref: 'MeshCost#' },
        },
      },
      response: { 200: { $ref: 'MeshTaskStatus#' }, ...errors },
    },
  }, async (request, reply) => {
    // The Idempotency-Key answer is stored with the result's audit event, in one write (decision 0079).
    const stored = answerInLastWrite(request, reply, 200);
    const status = await router.result(request.caller!, request.params.taskId, request.body, Date.now(), stored?.of);
    return stored?.body !== undefined ? sendStored(reply, 200, stored.body) : status;
  });

  app.post<{ Params: { taskId: string } }>('/api/v1/tasks/:taskId/cancel', {
    schema: {
      tags: ['mesh'],
      summary: 'Cancel a task you sent (idempotent)',
      headers: writeHeaders,
      params: taskParams,
      response: { 200: { $ref: 'MeshTaskStatus#' }, ...errors },
    },
  }, async (request) => router.cancel(request.caller!, request.params.taskId, request.caller!.roles.includes(ADMIN_ROLE)));
};
