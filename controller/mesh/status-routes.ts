/** `GET /api/v1/status/{id}`: a task's, a session's or an approval's state, by id prefix. */
import type { AreaPlugin } from '../plugins.js';
import { ADMIN_ROLE } from '../route-auth.js';
import { authErrorResponses, HttpError } from '../http-errors.js';
import { ID } from './route-schemas.js';
import { ID_PREFIX, type MeshStatus } from '../../mesh/contracts.js';

export const statusRoutes: AreaPlugin = async (app, { services }) => {
  const mesh = services.mesh;
  app.get<{ Params: { id: string } }>('/api/v1/status/:id', {
    schema: {
      tags: ['mesh'],
      summary: 'State of a task (task-…), a session (ctx-…) or an approval (apr-…)',
      params: { type: 'object', required: ['id'], properties: { id: ID } },
      response: {
        200: { anyOf: [{ $ref: 'MeshTaskStatus#' }, { $ref: 'MeshSessionStatus#' }, { $ref: 'MeshApprovalStatus#' }] },
        404: { $ref: 'ErrorResponse#' },
        ...authErrorResponses,
      },
    },
  }, async (request): Promise<MeshStatus> => {
    const { id } = request.params;
    const caller = request.caller!;
    const admin = caller.roles.includes(ADMIN_ROLE);
    if (id.startsWith(ID_PREFIX.task)) return mesh.router.statusFor(caller, id, admin);
    if (id.startsWith(ID_PREFIX.approval)) return mesh.approvals.statusFor(caller, id, admin);
    if (id.startsWith(ID_PREFIX.context)) return mesh.sessions.status(caller, id, admin);
    throw new HttpError(404, `"${id}" is not a task (task-…), session (ctx-…) or approval (apr-…) id`);
  });
};
