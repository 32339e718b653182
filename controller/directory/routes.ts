/**
 * The org directory: nodes, manager chains, and a JSON import for admins. Reading it needs the
 * admin or directory-reader role; anyone else may read only their own node and manager chain
 * (a gateway or a finance token has no business listing the org).
 */
import type { FastifyRequest } from 'fastify';
import type { AreaPlugin } from '../plugins.js';
import { adminOnly, ADMIN_ROLE } from '../route-auth.js';
import { authErrorResponses, HttpError } from '../http-errors.js';
import { directoryNodeInputSchema, DirectoryImportError, NODE_ID_PATTERN, validateDirectoryNodes } from './import.js';
import { DIRECTORY_NODE_KINDS } from './types.js';

const directoryNodeSchema = {
  $id: 'DirectoryNode',
  type: 'object',
  required: ['id', 'kind', 'name', 'parentId', 'email', 'attributes', 'managerId', 'roles'],
  properties: {
    id: { type: 'string' },
    kind: { enum: DIRECTORY_NODE_KINDS },
    name: { type: 'string' },
    parentId: { type: ['string', 'null'] },
    email: { type: ['string', 'null'] },
    attributes: { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } },
    managerId: { type: ['string', 'null'] },
    roles: { type: 'array', items: { type: 'string' } },
  },
} as const;

export const DIRECTORY_READER_ROLE = 'directory-reader';

function mayRead(request: FastifyRequest, nodeId: string): void {
  const caller = request.caller!;
  if (caller.roles.includes(ADMIN_ROLE) || caller.roles.includes(DIRECTORY_READER_ROLE) || caller.subject === nodeId) return;
  throw new HttpError(403, `reading the directory needs the ${ADMIN_ROLE} or ${DIRECTORY_READER_ROLE} role (a token may read only its own node)`);
}

const idParams = (name: string) => ({ type: 'object', required: [name], properties: { [name]: { type: 'string', pattern: NODE_ID_PATTERN } } });

export const directoryRoutes: AreaPlugin = async (app, { services }) => {
  app.addSchema(directoryNodeSchema);
  app.addSchema(directoryNodeInputSchema);

  app.get<{ Params: { nodeId: string } }>('/api/v1/directory/:nodeId', {
    schema: {
      tags: ['directory'],
      summary: 'One directory node (org, department, team, person or role)',
      params: idParams('nodeId'),
      response: { 200: { $ref: 'DirectoryNode#' }, 404: { $ref: 'ErrorResponse#' }, ...authErrorResponses },
    },
  }, async (request) => {
    mayRead(request, request.params.nodeId);
    const node = await services.directory.get(request.params.nodeId);
    if (!node) throw new HttpError(404, `no directory node "${request.params.nodeId}"`);
    return node;
  });

  app.get<{ Params: { personId: string } }>('/api/v1/directory/:personId/managers', {
    schema: {
      tags: ['directory'],
      summary: "A person's manager chain, direct manager first",
      params: idParams('personId'),
      response: {
        200: { type: 'object', required: ['personId', 'managers'], properties: { personId: { type: 'string' }, managers: { type: 'array', items: { $ref: 'DirectoryNode#' } } } },
        404: { $ref: 'ErrorResponse#' },
        ...authErrorResponses,
      },
    },
  }, async (request) => {
    const { personId } = request.params;
    mayRead(request, personId);
    const person = await services.directory.get(personId);
    if (!person) throw new HttpError(404, `no directory node "${personId}"`);
    if (person.kind !== 'person') throw new HttpError(404, `"${personId}" is a ${person.kind}, not a person`);
    return { personId, managers: await services.directory.managerChain(personId) };
  });

  app.post<{ Body: { nodes: unknown[] } }>('/api/v1/directory/import', {
    config: { auth: adminOnly },
    schema: {
      tags: ['directory'],
      summary: 'Create or update directory nodes (admin); same rules as `switchboard directory import`',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['nodes'],
        properties: { nodes: { type: 'array', minItems: 1, maxItems: 10000, items: { type: 'object' } } },
      },
      response: {
        200: { type: 'object', required: ['created', 'updated'], properties: { created: { type: 'integer' }, updated: { type: 'integer' } } },
        400: { $ref: 'ErrorResponse#' },
        ...authErrorResponses,
      },
    },
  }, async (request) => {
    try {
      const nodes = await validateDirectoryNodes(request.body.nodes.map((record, i) => ({ label: `nodes[${i}]`, record })), services.directory, 'body');
      return await services.directory.upsert(nodes);
    } catch (err) {
      if (err instanceof DirectoryImportError) throw new HttpError(400, err.problems.join('; '));
      throw err;
    }
  });
};
