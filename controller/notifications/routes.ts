/** Notifications: a one-way message to a role's, a person's or an agent's agents (masked per receiver, queued, acked). */
import { randomUUID } from 'node:crypto';
import type { AreaPlugin } from '../plugins.js';
import { authErrorResponses, HttpError } from '../http-errors.js';
import { ID, writeHeaders } from '../mesh/route-schemas.js';
import { BlockedByGuardError } from '../mesh/redaction-boundary.js';
import { UnknownTargetError } from '../mesh/targets.js';
import { ID_PREFIX, SEVERITIES, type NotifyRequest, type WorkItem } from '../../mesh/contracts.js';

export const notificationRoutes: AreaPlugin = async (app, { services }) => {
  const mesh = services.mesh;

  app.post<{ Body: NotifyRequest }>('/api/v1/notifications', {
    schema: {
      tags: ['mesh'],
      summary: "Notify a role's, person's or agent's agents (no reply expected)",
      headers: writeHeaders,
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['target', 'message'],
        properties: { target: ID, message: { type: 'string', minLength: 1, maxLength: 20_000 }, severity: { enum: SEVERITIES }, contextId: ID },
      },
      response: {
        202: { type: 'object', required: ['notificationId', 'delivered', 'recipients'], properties: { notificationId: { type: 'string' }, delivered: { type: 'integer' }, recipients: { type: 'array', items: { type: 'string' } } } },
        404: { $ref: 'ErrorResponse#' }, 422: { $ref: 'ErrorResponse#' }, ...authErrorResponses,
      },
    },
  }, async (request, reply) => {
    const caller = request.caller!;
    const s = await mesh.router.sender(caller);
    const id = `${ID_PREFIX.notification}${randomUUID()}`;
    let target;
    try {
      target = await mesh.targets.resolve(request.body.target);
    } catch (err) {
      if (err instanceof UnknownTargetError) throw new HttpError(404, err.message);
      throw err;
    }
    for (const role of new Set(target.agents.map((a) => a.role))) await mesh.router.authorize(s, 'notify.send', role, id);
    const items = [];
    for (const a of target.agents) {
      let masked;
      try {
        masked = mesh.boundary.maskFor([a.role], request.body.message);
      } catch (err) {
        if (err instanceof BlockedByGuardError) throw new HttpError(422, err.message);
        throw err;
      }
      const item: Omit<WorkItem, 'deliveryId' | 'leaseId' | 'leaseExpiresAt' | 'attempt'> = {
        kind: 'notification',
        from: { agentId: s.agentId, person: s.person, role: s.role },
        contextId: request.body.contextId ?? null,
        taskId: null,
        approvalId: null,
        task: { title: 'notification', text: masked.text },
        context: null,
        redactions: masked.redactions,
        severity: request.body.severity ?? 'info',
      };
      items.push({ id: `${ID_PREFIX.delivery}${randomUUID()}`, kind: 'notification', agentId: a.agentId, taskId: null, approvalId: null, payload: JSON.stringify(item) });
    }
    await mesh.queue.enqueue(items);
    for (const a of target.agents) mesh.wakeups.wake(a.agentId);
    await mesh.audit.activity({ action: 'mesh.notify', actor: { id: s.agentId ?? s.subject, role: s.role }, target: `${request.body.target} -> ${target.agents.map((a) => a.agentId).join(',') || '(no agents)'}`, result: 'ok', reason: request.body.severity ?? 'info', traceId: id });
    return reply.code(202).send({ notificationId: id, delivered: items.length, recipients: target.agents.map((a) => a.agentId) });
  });
};
