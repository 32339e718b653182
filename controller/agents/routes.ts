/**
 * Agents: register, heartbeat, list, and receive work by long-poll or SSE. An agent acts only
 * under the token that registered it. Every poll counts as a sign of life.
 */
import type { FastifyRequest } from 'fastify';
import type { AreaPlugin } from '../plugins.js';
import { ADMIN_ROLE } from '../route-auth.js';
import { authErrorResponses, HttpError } from '../http-errors.js';
import { ID, writeHeaders } from '../mesh/route-schemas.js';
import { AgentOwnershipError, agentView } from './repository.js';
import type { MeshDeliveryRow } from '../mesh/schema.js';
import type { AgentRegistration, WorkItem } from '../../mesh/contracts.js';

const KEEPALIVE_MS = 15_000;
const MAX_WAIT_MS = 60_000;

const agentViewSchema = {
  type: 'object',
  required: ['agentId', 'person', 'role', 'skills', 'load', 'capacity', 'locale', 'online', 'lastSeenAt'],
  properties: {
    agentId: { type: 'string' }, person: { type: 'string' }, role: { type: 'string' },
    skills: { type: 'array', items: { type: 'string' } }, load: { type: 'integer' }, capacity: { type: 'integer' },
    locale: { type: ['string', 'null'] }, online: { type: 'boolean' }, lastSeenAt: { type: 'string' },
  },
} as const;

const agentParams = { type: 'object', required: ['agentId'], properties: { agentId: ID } } as const;

export function toWorkItem(row: MeshDeliveryRow): WorkItem {
  const body = JSON.parse(row.payload) as Omit<WorkItem, 'deliveryId' | 'leaseId' | 'leaseExpiresAt' | 'attempt'>;
  return { ...body, deliveryId: row.id, leaseId: row.lease_id!, leaseExpiresAt: new Date(Number(row.lease_until)).toISOString(), attempt: Number(row.attempts) };
}

export const agentRoutes: AreaPlugin = async (app, { services }) => {
  const mesh = services.mesh;

  /** Items claimed for a poller that went away go back to the queue, and the agent's other waiters (here or elsewhere) are told. */
  const releaseUnsent = async (agentId: string, rows: readonly MeshDeliveryRow[]) => {
    await Promise.all(rows.map((r) => mesh.queue.release(r.id, r.lease_id!)));
    if (rows.length) mesh.wakeups.wake(agentId);
  };

  /** 404 for an agent nobody registered, 403 for another identity's. */
  const checkOwner = (request: FastifyRequest, agentId: string, owner: string | undefined) => {
    if (owner === undefined) throw new HttpError(404, `no agent "${agentId}"; register it first (POST /api/v1/agents)`);
    if (owner !== request.caller!.subject) throw new HttpError(403, `agent "${agentId}" belongs to another identity`);
  };

  /** The agent, checked to be the caller's. */
  const ownAgent = async (request: FastifyRequest, agentId: string) => {
    const a = await mesh.agents.get(agentId);
    checkOwner(request, agentId, a?.owner);
    return a!;
  };

  app.post<{ Body: AgentRegistration }>('/api/v1/agents', {
    schema: {
      tags: ['mesh'],
      summary: 'Register (or update) the calling agent: role, skills, load, locale',
      headers: writeHeaders,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['agentId', 'role'],
        properties: {
          agentId: ID, person: ID, role: ID,
          skills: { type: 'array', maxItems: 100, items: ID },
          load: { type: 'integer', minimum: 0, maximum: 10_000 },
          capacity: { type: 'integer', minimum: 1, maximum: 10_000 },
          locale: { type: 'string', pattern: '^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$' },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['agentId', 'person', 'role', 'heartbeatIntervalMs', 'offlineAfterMs'],
          properties: { agentId: { type: 'string' }, person: { type: 'string' }, role: { type: 'string' }, heartbeatIntervalMs: { type: 'integer' }, offlineAfterMs: { type: 'integer' } },
        },
        409: { $ref: 'ErrorResponse#' },
        ...authErrorResponses,
      },
    },
  }, async (request) => {
    const caller = request.caller!;
    const b = request.body;
    if (!caller.roles.includes(b.role)) throw new HttpError(403, `role "${b.role}" is not in your token (you hold: ${caller.roles.join(', ')})`);
    const person = b.person ?? caller.subject;
    if (person !== caller.subject && !caller.roles.includes(ADMIN_ROLE)) throw new HttpError(403, `an agent works for its token's subject (${caller.subject}); leave "person" out`);
    try {
      const a = await mesh.agents.register({ agentId: b.agentId, owner: caller.subject, person, role: b.role, skills: b.skills ?? [], load: b.load ?? 0, capacity: b.capacity ?? 4, locale: b.locale ?? null });
      return { agentId: a.agentId, person: a.person, role: a.role, heartbeatIntervalMs: mesh.settings.heartbeatIntervalMs, offlineAfterMs: mesh.settings.offlineAfterMs };
    } catch (err) {
      if (err instanceof AgentOwnershipError) throw new HttpError(409, err.message);
      throw err;
    }
  });

  app.post<{ Params: { agentId: string }; Body: { load?: number } }>('/api/v1/agents/:agentId/heartbeat', {
    // Safe to repeat (a sign of life): its Idempotency-Key is not stored, a repeat runs again.
    config: { idempotencyNotStored: true },
    schema: {
      tags: ['mesh'],
      summary: 'Heartbeat: the agent is alive (and its current load)',
      headers: { type: 'object', properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: 200, description: 'accepted but not stored: a heartbeat is safe to repeat, and a repeat runs again' } } },
      params: agentParams,
      body: { type: 'object', additionalProperties: false, properties: { load: { type: 'integer', minimum: 0, maximum: 10_000 } } },
      response: { 200: { type: 'object', required: ['ok', 'serverTime'], properties: { ok: { type: 'boolean' }, serverTime: { type: 'string' } } }, 404: { $ref: 'ErrorResponse#' }, ...authErrorResponses },
    },
  }, async (request) => {
    // The write is conditioned on the owner, so it is the ownership check; only when it wrote nothing
    // is the agent read, to answer 404 or 403 (or, if it was registered meanwhile, to write again).
    const { agentId } = request.params;
    if (!(await mesh.agents.touch(agentId, request.caller!.subject, request.body?.load))) {
      await ownAgent(request, agentId);
      await mesh.agents.touch(agentId, request.caller!.subject, request.body?.load);
    }
    return { ok: true, serverTime: new Date().toISOString() };
  });

  app.get<{ Querystring: { role?: string } }>('/api/v1/agents', {
    schema: {
      tags: ['mesh'],
      summary: 'Registered agents with their online state',
      querystring: { type: 'object', additionalProperties: false, properties: { role: ID } },
      response: { 200: { type: 'object', required: ['agents'], properties: { agents: { type: 'array', items: agentViewSchema } } }, ...authErrorResponses },
    },
  }, async (request) => {
    const list = request.query.role ? await mesh.agents.byRole(request.query.role) : await mesh.agents.all();
    const now = Date.now();
    return { agents: list.map((a) => agentView(a, mesh.settings.offlineAfterMs, now)) };
  });

  app.get<{ Params: { agentId: string }; Querystring: { waitMs?: number; max?: number } }>('/api/v1/agents/:agentId/work', {
    schema: {
      tags: ['mesh'],
      summary: 'Long-poll for work: answers as soon as items are leased to you, or empty after waitMs',
      params: agentParams,
      querystring: { type: 'object', additionalProperties: false, properties: { waitMs: { type: 'integer', minimum: 0, maximum: MAX_WAIT_MS }, max: { type: 'integer', minimum: 1, maximum: 50 } } },
      response: { 200: { type: 'object', required: ['items'], properties: { items: { type: 'array', items: { $ref: 'MeshWorkItem#' } } } }, 404: { $ref: 'ErrorResponse#' }, ...authErrorResponses },
    },
  }, async (request) => {
    const { agentId } = request.params;
    // The owner check and the poll's sign of life (written only when the stored one is stale) in one go.
    const owner = await mesh.agents.ownerWithTouch(agentId, request.caller!.subject, Date.now(), mesh.settings.offlineAfterMs / 6);
    checkOwner(request, agentId, owner);
    const closed = new AbortController();
    request.raw.once('close', () => closed.abort());
    const deadline = Date.now() + (request.query.waitMs ?? 25_000);
    for (;;) {
      // A poller that has gone away (client timeout, failover to another controller) gets nothing leased to it.
      if (closed.signal.aborted) return { items: [] };
      // Taken before the claim: a wake-up while it runs ends the wait below at once.
      const ticket = mesh.wakeups.ticket(agentId);
      const rows = await mesh.queue.claim(agentId, request.query.max ?? 1);
      if (rows.length) {
        if (closed.signal.aborted) {
          // The answer cannot reach the worker: hand the items back now rather than after the lease.
          await releaseUnsent(agentId, rows);
          return { items: [] };
        }
        return { items: rows.map(toWorkItem) };
      }
      const left = deadline - Date.now();
      if (left <= 0 || closed.signal.aborted) return { items: [] };
      await mesh.wakeups.wait(agentId, Math.min(left, mesh.wakeups.repollMs()), closed.signal, ticket);
    }
  });

  app.get<{ Params: { agentId: string } }>('/api/v1/agents/:agentId/work/stream', {
    schema: {
      tags: ['mesh'],
      summary: 'Work as Server-Sent Events: one "work" event per leased WorkItem, keepalive comments every 15 s',
      params: agentParams,
      response: { 200: { description: 'text/event-stream of `event: work` / `data: <WorkItem JSON>`', type: 'string' }, 404: { $ref: 'ErrorResponse#' }, ...authErrorResponses },
    },
  }, async (request, reply) => {
    const { agentId } = request.params;
    await ownAgent(request, agentId);
    const subject = request.caller!.subject;
    const closed = new AbortController();
    request.raw.once('close', () => closed.abort());
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': connected\n\n');
    let lastWrite = Date.now();
    try {
      while (!closed.signal.aborted) {
        await mesh.agents.touch(agentId, subject, undefined, Date.now(), mesh.settings.offlineAfterMs / 6);
        const ticket = mesh.wakeups.ticket(agentId);
        const rows = await mesh.queue.claim(agentId, 10);
        if (closed.signal.aborted) {
          // The stream ended while claiming: these items never reach the worker, hand them back now.
          await releaseUnsent(agentId, rows);
          break;
        }
        for (const r of rows) res.write(`event: work\nid: ${r.id}\ndata: ${JSON.stringify(toWorkItem(r))}\n\n`);
        if (rows.length) lastWrite = Date.now();
        else if (Date.now() - lastWrite >= KEEPALIVE_MS) {
          res.write(': keepalive\n\n');
          lastWrite = Date.now();
        }
        // Each turn touches the agent and may write the keepalive: keep turns well inside offlineAfterMs and KEEPALIVE_MS.
        if (!rows.length) await mesh.wakeups.wait(agentId, Math.min(mesh.wakeups.repollMs(), mesh.settings.offlineAfterMs / 3, KEEPALIVE_MS), closed.signal, ticket);
      }
    } catch (err) {
      request.log.error({ err }, 'work stream failed');
    } finally {
      res.end();
    }
  });

  app.post<{ Params: { deliveryId: string }; Body: { leaseId: string } }>('/api/v1/deliveries/:deliveryId/ack', {
    schema: {
      tags: ['mesh'],
      summary: 'Acknowledge an approval or notification item (tasks finish with /tasks/{id}/result)',
      headers: writeHeaders,
      params: { type: 'object', required: ['deliveryId'], properties: { deliveryId: ID } },
      body: { type: 'object', additionalProperties: false, required: ['leaseId'], properties: { leaseId: { type: 'string', minLength: 1, maxLength: 100 } } },
      response: { 200: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' } } }, 404: { $ref: 'ErrorResponse#' }, 409: { $ref: 'ErrorResponse#' }, ...authErrorResponses },
    },
  }, async (request) => {
    const dl = await services.store.db.selectFrom('mesh_deliveries').selectAll().where('id', '=', request.params.deliveryId).executeTakeFirst();
    if (!dl) throw new HttpError(404, `no delivery ${request.params.deliveryId}`);
    await ownAgent(request, dl.agent_id);
    if (dl.kind === 'task') throw new HttpError(409, `delivery ${dl.id} is a task; finish it with POST /api/v1/tasks/${dl.task_id}/result`);
    if (dl.state === 'done' && dl.lease_id === request.body.leaseId) return { ok: true };
    if (!(await mesh.queue.settle(dl.id, request.body.leaseId, { resultState: 'completed', result: '{}' }))) {
      throw new HttpError(409, `your lease on delivery ${dl.id} is no longer live (it ran out, or the approval was decided or escalated)`);
    }
    return { ok: true };
  });
};
