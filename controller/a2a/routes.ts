/**
 * A2A over JSON-RPC: the Agent Card at /.well-known/agent-card.json (public) and the JSON-RPC
 * endpoint (bearer token). v1.0 methods (SendMessage, SendStreamingMessage, GetTask,
 * CancelTask …) and the v0.3 names (message/send, message/stream, tasks/get, tasks/cancel) are
 * both served, through the SDK's handlers; streaming answers are written as SSE.
 */
import { ServerCallContext } from '@a2a-js/sdk/server';
import { JsonRpcTransportHandler } from '@a2a-js/sdk/server';
import { LegacyJsonRpcTransportHandler } from '@a2a-js/sdk/compat/v0_3/server';
import { AgentCard } from '@a2a-js/sdk';
import type { FastifyRequest } from 'fastify';
import type { AreaPlugin } from '../plugins.js';
import { CONTROLLER_VERSION } from '../server.js';
import { A2A_JSONRPC_PATH, MeshUser, buildAgentCard, createA2AEdge } from './edge.js';

export const a2aRoutes: AreaPlugin = async (app, { services }) => {
  const edge = createA2AEdge(services.mesh, services.store.db, services.profiles, '', CONTROLLER_VERSION);
  const v1 = new JsonRpcTransportHandler(edge.handler);
  const legacy = new LegacyJsonRpcTransportHandler(edge.handler);
  const baseUrl = (request: FastifyRequest) => `${request.protocol}://${request.host}`;

  app.get('/.well-known/agent-card.json', {
    config: { auth: 'public' },
    schema: {
      tags: ['a2a'],
      summary: 'A2A Agent Card of the org: one skill per role; send tasks to /a2a/jsonrpc with metadata.target',
      security: [],
      response: { 200: { type: 'object', additionalProperties: true } },
    },
  }, async (request, reply) => {
    reply.header('cache-control', 'public, max-age=300');
    return AgentCard.toJSON(buildAgentCard(baseUrl(request), services.profiles, CONTROLLER_VERSION));
  });

  app.post<{ Body: Record<string, unknown> }>(A2A_JSONRPC_PATH, {
    schema: {
      tags: ['a2a'],
      summary: 'A2A JSON-RPC (SendMessage, SendStreamingMessage, GetTask, CancelTask; v0.3 message/send, message/stream, tasks/get, tasks/cancel)',
      body: {
        type: 'object',
        required: ['jsonrpc', 'method'],
        additionalProperties: true,
        properties: { jsonrpc: { const: '2.0' }, method: { type: 'string', maxLength: 100 }, id: { type: ['string', 'integer', 'null'] }, params: { type: 'object', additionalProperties: true } },
      },
      response: { 200: { type: 'object', additionalProperties: true } },
    },
  }, async (request, reply) => {
    const isLegacy = String(request.body.method).includes('/');
    const header = request.headers['a2a-version'];
    const context = new ServerCallContext({
      user: new MeshUser(request.caller!),
      requestedVersion: typeof header === 'string' && header ? header : isLegacy ? '0.3' : '1.0',
    });
    const result = isLegacy ? await legacy.handle(request.body, context) : await v1.handle(request.body, context);
    if (!(Symbol.asyncIterator in Object(result))) return reply.send(result);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    try {
      for await (const event of result as AsyncGenerator<unknown>) res.write(`data: ${JSON.stringify(event)}\n\n`);
    } catch (err) {
      request.log.error({ err }, 'A2A stream failed');
    } finally {
      res.end();
    }
  });
};
