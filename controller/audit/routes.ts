/**
 * Audit API: gateways POST their hash-chained events; auditors and admins query and export
 * them. Retention runs here too (hourly sweep), deleting events older than retentionDays.
 */
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';
import type { AreaPlugin } from '../plugins.js';
import { adminOnly, ADMIN_ROLE, type RouteAuth } from '../route-auth.js';
import { HttpError, authErrorResponses } from '../http-errors.js';
import { auditEventSchema, type AuditEvent } from '../../audit/event.js';
import { auditEventProblem } from '../../audit/validate.js';
import { CSV_HEADER, toCsvRow, toNdjsonLine, type ExportFormat } from '../../audit/export-format.js';
import { Ajv } from 'ajv';
import { usageRecordSchema } from '../../models/ledger-contract.js';
import type { UsageRecord } from '../../models/usage-record.js';
import { AuditRepository, ForeignChainError, InvalidCursorError, type AuditQuery } from './repository.js';

export const AUDITOR_ROLE = 'auditor';

const validateUsageRecord = new Ajv({ allErrors: false, strict: false }).compile(usageRecordSchema);
const auditReaders: RouteAuth = { roles: [ADMIN_ROLE, AUDITOR_ROLE] };

export const DEFAULT_AUDIT_RETENTION_DAYS = 90;
const RETENTION_SWEEP_MS = 60 * 60_000;
const DAY_MS = 86_400_000;

const filterProperties = {
  tenant: { type: 'string', minLength: 1, maxLength: 128, description: 'tenant id' },
  actor: { type: 'string', minLength: 1, maxLength: 256, description: 'actor id (user, agent or gateway)' },
  action: { type: 'string', minLength: 1, maxLength: 128, description: 'e.g. model.call, policy.denied' },
  from: { type: 'string', format: 'date-time', description: 'events at or after this time' },
  to: { type: 'string', format: 'date-time', description: 'events before this time' },
} as const;

interface FilterQuery {
  tenant?: string;
  actor?: string;
  action?: string;
  from?: string;
  to?: string;
}

function toFilters(q: FilterQuery): Omit<AuditQuery, 'limit' | 'cursor'> {
  const from = q.from === undefined ? undefined : Date.parse(q.from);
  const to = q.to === undefined ? undefined : Date.parse(q.to);
  if (from !== undefined && to !== undefined && from >= to) throw new HttpError(400, '"from" must be earlier than "to"');
  return {
    ...(q.tenant !== undefined ? { tenantId: q.tenant } : {}),
    ...(q.actor !== undefined ? { actorId: q.actor } : {}),
    ...(q.action !== undefined ? { action: q.action } : {}),
    ...(from !== undefined ? { from } : {}),
    ...(to !== undefined ? { to } : {}),
  };
}

export interface AuditRouteSettings {
  retentionDays?: number;
}

export const auditRoutes: AreaPlugin = async (app, { services }) => {
  const repo = new AuditRepository(services.store.db, services.store.dialect);
  const settings: AuditRouteSettings = services.audit ?? {};
  const retentionDays = settings.retentionDays ?? DEFAULT_AUDIT_RETENTION_DAYS;

  const sweep = async () => {
    try {
      const removed = await repo.deleteOlderThan(Date.now() - retentionDays * DAY_MS);
      if (removed > 0) app.log.info({ removed, retentionDays }, 'audit retention: deleted old events');
    } catch (err) {
      app.log.error({ err }, 'audit retention sweep failed');
    }
  };
  const timer = setInterval(() => void sweep(), RETENTION_SWEEP_MS);
  timer.unref();
  app.addHook('onReady', sweep);
  app.addHook('onClose', async () => clearInterval(timer));

  app.post<{ Body: { events: unknown[]; usage?: unknown[]; gatewayId?: string } }>('/api/v1/audit/ingest', {
    // Checked per event below: a token may only write events of its own tenant.
    config: { tenantScope: 'rows' },
    schema: {
      tags: ['audit'],
      summary: 'Ingest a batch of hash-chained audit events (idempotent by event id)',
      description: 'Each event is checked on its own: valid events are stored even when others in the batch are refused; '
        + 'every refused event is named in `refused` (the gateway quarantines it and ships on). '
        + 'A batch may also carry the gateway\'s usage records (`usage`), which go to the org ledger (idempotent by record id).',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['events'],
        // Items are checked one by one in the handler (against the event schema), not here: one bad event must not refuse the batch.
        properties: {
          events: { type: 'array', maxItems: 5000, items: { type: 'object' } },
          // Checked one by one too (models/ledger-contract.ts usageRecordSchema): a bad record is refused alone.
          usage: { type: 'array', maxItems: 5000, items: { type: 'object' } },
          gatewayId: { type: 'string', minLength: 1, maxLength: 128, description: 'the sending gateway (its audit chain id), kept on ledger entries' },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['accepted', 'duplicates', 'rejected', 'alerts', 'refused'],
          properties: {
            accepted: { type: 'integer' },
            duplicates: { type: 'integer' },
            rejected: { type: 'integer', description: 'tampered or forked events, recorded as alerts' },
            alerts: { type: 'integer', description: 'continuity alerts raised by this batch' },
            usage: {
              type: 'object',
              required: ['accepted', 'duplicates', 'refused'],
              properties: {
                accepted: { type: 'integer' },
                duplicates: { type: 'integer', description: 'records already in the ledger (a re-sent batch)' },
                refused: { type: 'array', items: { type: 'object', required: ['index', 'reason'], properties: { index: { type: 'integer' }, reason: { type: 'string' } } } },
              },
            },
            refused: {
              type: 'array',
              description: 'events that are not valid audit events (not stored; recorded as alerts)',
              items: {
                type: 'object',
                required: ['index', 'id', 'seq', 'reason'],
                properties: {
                  index: { type: 'integer', description: 'position in the batch' },
                  id: { type: ['string', 'null'] },
                  seq: { type: ['integer', 'null'] },
                  reason: { type: 'string' },
                },
              },
            },
          },
        },
        400: { $ref: 'ErrorResponse#' },
        ...authErrorResponses,
      },
    },
  }, async (request) => {
    const usageIn = request.body.usage ?? [];
    if (request.body.events.length === 0 && usageIn.length === 0) throw new HttpError(400, 'body/events must not be empty (send at least one event or usage record)');
    const valid: AuditEvent[] = [];
    const refused: Array<{ index: number; id: string | null; seq: number | null; chainId: string; reason: string }> = [];
    request.body.events.forEach((candidate, index) => {
      const problem = auditEventProblem(candidate);
      if (problem === null) {
        valid.push(candidate as AuditEvent);
        return;
      }
      const c = candidate as Partial<Record<'id' | 'seq' | 'chainId', unknown>>;
      refused.push({
        index,
        id: typeof c.id === 'string' ? c.id.slice(0, 128) : null,
        seq: Number.isSafeInteger(c.seq) ? (c.seq as number) : null,
        chainId: typeof c.chainId === 'string' ? c.chainId.slice(0, 128) : 'unknown',
        reason: problem.slice(0, 500),
      });
    });
    const tenant = request.caller!.tenant;
    const foreign = valid.find((e) => e.tenantId !== tenant);
    if (foreign) throw new HttpError(403, `this token may only send events of tenant "${tenant}" (event ${foreign.id} is for "${foreign.tenantId}")`);
    const usageChecked = checkUsage(usageIn, tenant);
    if (refused.length > 0) {
      await repo.recordRefused(refused.map((r) => ({ chainId: r.chainId, seq: r.seq ?? 0, eventId: r.id ?? '', reason: r.reason })));
      request.log.warn({ caller: request.caller?.subject, refused: refused.map((r) => ({ index: r.index, id: r.id, seq: r.seq, reason: r.reason })) }, 'audit ingest: events refused');
    }
    let result;
    try {
      result = valid.length > 0 ? await repo.ingest(valid, request.caller!.subject) : { accepted: 0, duplicates: 0, rejected: 0, alerts: [] };
    } catch (err) {
      if (err instanceof ForeignChainError) throw new HttpError(403, err.message);
      throw err;
    }
    if (result.alerts.length > 0) {
      request.log.warn({ caller: request.caller?.subject, alerts: result.alerts.map((a) => ({ kind: a.kind, chainId: a.chainId, seq: a.seq })) }, 'audit ingest: chain continuity alerts');
    }
    const usage = { ...(await services.ledger.ingest(tenant, usageChecked.records, {
      gatewayId: request.body.gatewayId ?? request.caller!.subject,
      departmentOf: async (userId) => (await services.directory.personFacts(userId))?.department ?? undefined,
    })), refused: usageChecked.refused };
    if (usage.refused.length > 0) request.log.warn({ caller: request.caller?.subject, refused: usage.refused }, 'audit ingest: usage records refused');
    return {
      accepted: result.accepted,
      duplicates: result.duplicates,
      rejected: result.rejected,
      alerts: result.alerts.length + refused.length,
      refused: refused.map(({ chainId: _c, ...r }) => r),
      ...(request.body.usage ? { usage } : {}),
    };
  });

  /** The valid usage records of a batch, and the refused ones; a record of another tenant refuses the batch (like events). */
  function checkUsage(candidates: readonly unknown[], tenant: string) {
    const records: UsageRecord[] = [];
    const refusedUsage: Array<{ index: number; reason: string }> = [];
    candidates.forEach((c, index) => {
      if (validateUsageRecord(c)) records.push(c as UsageRecord);
      else {
        const e = validateUsageRecord.errors?.[0];
        refusedUsage.push({ index, reason: `usage${e?.instancePath ?? ''} ${e?.message ?? 'is invalid'}`.slice(0, 500) });
      }
    });
    const foreign = records.find((r) => r.tenantId !== tenant);
    if (foreign) throw new HttpError(403, `this token may only send usage of tenant "${tenant}" (record ${foreign.id} is for "${foreign.tenantId}")`);
    return { records, refused: refusedUsage };
  }

  app.get<{ Querystring: FilterQuery & { limit?: number; cursor?: string } }>('/api/v1/audit/events', {
    config: { auth: auditReaders },
    schema: {
      tags: ['audit'],
      summary: 'Audit events matching the filters, oldest first, paginated by cursor',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ...filterProperties,
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          cursor: { type: 'string', minLength: 1, maxLength: 512, description: 'nextCursor of the previous page' },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['events', 'nextCursor'],
          properties: { events: { type: 'array', items: auditEventSchema }, nextCursor: { type: ['string', 'null'] } },
        },
        400: { $ref: 'ErrorResponse#' },
        ...authErrorResponses,
      },
    },
  }, async (request) => {
    try {
      return await repo.query({ ...toFilters(request.query), limit: request.query.limit ?? 100, ...(request.query.cursor ? { cursor: request.query.cursor } : {}) });
    } catch (err) {
      if (err instanceof InvalidCursorError) throw new HttpError(400, err.message);
      throw err;
    }
  });

  app.get<{ Querystring: FilterQuery & { format?: ExportFormat } }>('/api/v1/audit/export', {
    config: { auth: auditReaders },
    schema: {
      tags: ['audit'],
      summary: 'Export matching events as ndjson or CSV, in chain order (verifiable with `switchboard audit verify`)',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { ...filterProperties, format: { enum: ['ndjson', 'csv'], default: 'ndjson' } },
      },
      response: {
        200: { description: 'application/x-ndjson or text/csv', type: 'string' },
        400: { $ref: 'ErrorResponse#' },
        ...authErrorResponses,
      },
    },
  }, async (request, reply: FastifyReply) => {
    const format = request.query.format ?? 'ndjson';
    const events = repo.exportEvents(toFilters(request.query));
    async function* lines(): AsyncGenerator<string> {
      if (format === 'csv') yield CSV_HEADER;
      for await (const e of events) yield format === 'csv' ? toCsvRow(e) : toNdjsonLine(e);
    }
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return reply
      .header('content-type', format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson')
      .header('content-disposition', `attachment; filename="audit-${stamp}.${format}"`)
      .send(Readable.from(lines()));
  });

  app.get<{ Querystring: { chain?: string; limit?: number } }>('/api/v1/audit/alerts', {
    config: { auth: adminOnly },
    schema: {
      tags: ['audit'],
      summary: 'Chain continuity alerts (gaps, forks, broken links, tampered events), newest first',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { chain: { type: 'string', minLength: 1, maxLength: 128 }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
      },
      response: {
        200: {
          type: 'object',
          required: ['alerts'],
          properties: {
            alerts: {
              type: 'array',
              items: {
                type: 'object',
                required: ['id', 'chainId', 'kind', 'seq', 'eventId', 'detail', 'createdAt'],
                properties: {
                  id: { type: 'string' }, chainId: { type: 'string' }, kind: { type: 'string' }, seq: { type: 'integer' },
                  eventId: { type: 'string' }, detail: { type: 'string' }, createdAt: { type: 'string' },
                },
              },
            },
          },
        },
        ...authErrorResponses,
      },
    },
  }, async (request) => {
    const rows = await repo.alerts(request.query.chain, request.query.limit ?? 100);
    return {
      alerts: rows.map((r) => ({ id: r.id, chainId: r.chain_id, kind: r.kind, seq: r.seq, eventId: r.event_id, detail: r.detail, createdAt: new Date(r.created_at).toISOString() })),
    };
  });
};
