/**
 * Org ledger API (docs/budgets.md, docs/decisions CONTRACT-13):
 *   reads for cost owners and admins — spend, budgets, entries, the rules what-if replay;
 *   writes for cost owners and admins — budgets and the tenant's time zone;
 *   leases for gateways — any valid token of the tenant, for its own subject and roles.
 * Usage records themselves arrive with the audit batches (controller/audit/routes.ts).
 */
import type { AreaPlugin } from '../plugins.js';
import { ADMIN_ROLE, type RouteAuth } from '../route-auth.js';
import { HttpError, authErrorResponses } from '../http-errors.js';
import type { VerifiedCaller } from '../auth/access-tokens.js';
import { LEDGER_SCOPES, type LedgerScope } from '../../models/ledger-contract.js';
import { LEDGER_WINDOWS, isValidTimeZone, type LedgerWindow } from '../../models/budget-windows.js';
import { loadModelRegistry } from '../../models/registry.js';
import { DownshiftRules, registryLookup } from '../../policies/downshift/rules.js';
import { DownshiftRulesError, parseDownshiftRules } from '../../policies/downshift/load.js';
import { simulateRules } from '../../policies/downshift/simulate.js';
import type { BudgetState } from '../../policies/downshift/types.js';
import { InvalidCursorError, UnknownLeaseError } from './repository.js';
import { SPEND_GROUPINGS, type SpendGrouping } from '../../models/ledger-contract.js';

/** Directory role of the people who own the org's spend (may read the ledger and set budgets). */
export const COST_OWNER_ROLE = 'cost-owner';
export const ledgerReaders: RouteAuth = { roles: [ADMIN_ROLE, COST_OWNER_ROLE] };
const ledgerWriters: RouteAuth = { roles: [ADMIN_ROLE, COST_OWNER_ROLE] };

const DAY_MS = 86_400_000;
const DEFAULT_RANGE_MS = 30 * DAY_MS;

const isoTime = { type: 'string', format: 'date-time' } as const;
const money = { type: 'number' } as const;
const totalsProperties = {
  costUsd: money,
  requests: { type: 'integer' },
  promptTokens: { type: 'integer' },
  completionTokens: { type: 'integer' },
  cacheHits: { type: 'integer' },
  cacheSavingsUsd: money,
  downshifts: { type: 'integer' },
  downshiftSavingsUsd: money,
} as const;
const totalsRequired = Object.keys(totalsProperties);

const rangeQuery = {
  from: { ...isoTime, description: 'entries at or after this time (default: 30 days before `to`)' },
  to: { ...isoTime, description: 'entries before this time (default: now)' },
} as const;

/** Open object: a ledger entry is models/usage-record.ts UsageRecord plus department and gatewayId. */
const ledgerEntrySchema = {
  type: 'object',
  required: ['id', 'ts', 'tenantId', 'userId', 'role', 'modelRequested', 'modelUsed', 'costUsd'],
  additionalProperties: true,
  properties: {
    id: { type: 'string' }, ts: { type: 'integer' }, tenantId: { type: 'string' }, userId: { type: 'string' }, role: { type: 'string' },
    department: { type: 'string' }, gatewayId: { type: 'string' }, leaseId: { type: 'string' },
    modelRequested: { type: 'string' }, modelUsed: { type: 'string' }, costUsd: money,
  },
} as const;

function range(q: { from?: string; to?: string }, now: number): { from: number; to: number } {
  const to = q.to === undefined ? now : Date.parse(q.to);
  const from = q.from === undefined ? to - DEFAULT_RANGE_MS : Date.parse(q.from);
  if (from >= to) throw new HttpError(400, '"from" must be earlier than "to"');
  return { from, to };
}

/** The optional `tenant` parameter may only name the tenant this controller serves. */
function tenantOf(services: { tenant: string }, requested: string | undefined): string {
  if (requested !== undefined && requested !== services.tenant) throw new HttpError(400, `this controller serves tenant "${services.tenant}", not "${requested}"`);
  return services.tenant;
}

function mayActFor(caller: VerifiedCaller, userId: string, role: string): void {
  if (caller.roles.includes(ADMIN_ROLE)) return;
  if (caller.subject !== userId) throw new HttpError(403, `this token is for "${caller.subject}"; it may not draw budget for "${userId}"`);
  if (!caller.roles.includes(role)) throw new HttpError(403, `this token does not hold role "${role}"`);
}

export const ledgerRoutes: AreaPlugin = async (app, { services }) => {
  const ledger = services.ledger;
  // The simulator prices requests with the same registry the gateways use (shipped snapshot, or the data dir's listing).
  let registry: ReturnType<typeof loadModelRegistry> | undefined;
  const registryNow = () => (registry ??= loadModelRegistry({ dataDir: services.dataDir }));

  app.get<{ Querystring: { from?: string; to?: string; groupBy?: SpendGrouping; tenant?: string } }>('/api/v1/ledger/spend', {
    config: { auth: ledgerReaders },
    schema: {
      tags: ['ledger'],
      summary: 'Org spend in a time range, grouped by day (tenant time zone), department, role, user or model',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { ...rangeQuery, groupBy: { enum: [...SPEND_GROUPINGS], default: 'day' }, tenant: { type: 'string', minLength: 1, maxLength: 128 } },
      },
      response: {
        200: {
          type: 'object',
          required: ['currency', 'groupBy', 'from', 'to', 'timeZone', 'rows', 'totals'],
          properties: {
            currency: { const: 'USD' },
            groupBy: { type: 'string' },
            from: isoTime,
            to: isoTime,
            timeZone: { type: 'string' },
            rows: { type: 'array', items: { type: 'object', required: ['key', ...totalsRequired], properties: { key: { type: 'string' }, ...totalsProperties } } },
            totals: { type: 'object', required: totalsRequired, properties: totalsProperties },
          },
        },
        400: { $ref: 'ErrorResponse#' },
        ...authErrorResponses,
      },
    },
  }, async (request) => {
    const tenant = tenantOf(services, request.query.tenant);
    const { from, to } = range(request.query, Date.now());
    const groupBy = request.query.groupBy ?? 'day';
    const timeZone = await ledger.timeZone(tenant);
    const { rows, totals } = await ledger.spend(tenant, { from, to, groupBy, timeZone });
    return { currency: 'USD', groupBy, from: new Date(from).toISOString(), to: new Date(to).toISOString(), timeZone, rows, totals };
  });

  app.get<{ Querystring: { tenant?: string } }>('/api/v1/ledger/budgets', {
    config: { auth: ledgerReaders },
    schema: {
      tags: ['ledger'],
      summary: 'Every org budget with spend, outstanding leases and a linear projection to the end of its window',
      querystring: { type: 'object', additionalProperties: false, properties: { tenant: { type: 'string', minLength: 1, maxLength: 128 } } },
      response: {
        200: {
          type: 'object',
          required: ['budgets'],
          properties: {
            budgets: {
              type: 'array',
              items: {
                type: 'object',
                required: ['scope', 'id', 'window', 'timeZone', 'limitUsd', 'spentUsd', 'leasedOutstandingUsd', 'windowStart', 'windowEnd', 'projectedUsd'],
                properties: {
                  scope: { enum: [...LEDGER_SCOPES] }, id: { type: 'string' }, window: { enum: [...LEDGER_WINDOWS] }, timeZone: { type: 'string' },
                  limitUsd: money, spentUsd: money, leasedOutstandingUsd: money, windowStart: isoTime, windowEnd: isoTime, projectedUsd: money,
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
    const tenant = tenantOf(services, request.query.tenant);
    const standings = await ledger.standings(tenant);
    return {
      budgets: standings.map((s) => ({ ...s, windowStart: new Date(s.windowStart).toISOString(), windowEnd: new Date(s.windowEnd).toISOString() })),
    };
  });

  const budgetParams = {
    type: 'object',
    required: ['scope', 'id', 'window'],
    properties: { scope: { enum: [...LEDGER_SCOPES] }, id: { type: 'string', minLength: 1, maxLength: 256 }, window: { enum: [...LEDGER_WINDOWS] } },
  } as const;
  type BudgetParams = { scope: LedgerScope; id: string; window: LedgerWindow };

  app.put<{ Params: BudgetParams; Body: { limitUsd: number } }>('/api/v1/ledger/budgets/:scope/:id/:window', {
    config: { auth: ledgerWriters },
    schema: {
      tags: ['ledger'],
      summary: 'Set one org budget (tenant, department, role or user; day or month window in the tenant time zone)',
      params: budgetParams,
      body: { type: 'object', additionalProperties: false, required: ['limitUsd'], properties: { limitUsd: { type: 'number', minimum: 0 } } },
      response: { 204: { type: 'null' }, 400: { $ref: 'ErrorResponse#' }, ...authErrorResponses },
    },
  }, async (request, reply) => {
    const { scope, id, window } = request.params;
    if (scope === 'tenant' && id !== services.tenant) throw new HttpError(400, `a tenant budget's id is the tenant ("${services.tenant}"), not "${id}"`);
    await ledger.setBudget(services.tenant, { scope, id, window, limitUsd: request.body.limitUsd });
    return reply.code(204).send();
  });

  app.delete<{ Params: BudgetParams }>('/api/v1/ledger/budgets/:scope/:id/:window', {
    config: { auth: ledgerWriters },
    schema: {
      tags: ['ledger'],
      summary: 'Remove one org budget',
      params: budgetParams,
      response: { 204: { type: 'null' }, 404: { $ref: 'ErrorResponse#' }, ...authErrorResponses },
    },
  }, async (request, reply) => {
    const { scope, id, window } = request.params;
    if (!(await ledger.deleteBudget(services.tenant, scope, id, window))) throw new HttpError(404, `no ${window} budget for ${scope} "${id}"`);
    return reply.code(204).send();
  });

  const settingsSchema = { type: 'object', required: ['timeZone'], properties: { timeZone: { type: 'string' } } } as const;
  app.get('/api/v1/ledger/settings', {
    config: { auth: ledgerReaders },
    schema: { tags: ['ledger'], summary: 'The tenant time zone budget windows and day keys are computed in', response: { 200: settingsSchema, ...authErrorResponses } },
  }, async () => ({ timeZone: await ledger.timeZone(services.tenant) }));

  app.put<{ Body: { timeZone: string } }>('/api/v1/ledger/settings', {
    config: { auth: ledgerWriters },
    schema: {
      tags: ['ledger'],
      summary: 'Set the tenant time zone (IANA name, default UTC)',
      body: { type: 'object', additionalProperties: false, required: ['timeZone'], properties: { timeZone: { type: 'string', minLength: 1, maxLength: 64 } } },
      response: { 200: settingsSchema, 400: { $ref: 'ErrorResponse#' }, ...authErrorResponses },
    },
  }, async (request) => {
    const { timeZone } = request.body;
    if (!isValidTimeZone(timeZone)) throw new HttpError(400, `timeZone: unknown time zone "${timeZone}" (use an IANA name such as "Europe/Berlin" or "UTC")`);
    await ledger.setTimeZone(services.tenant, timeZone);
    return { timeZone };
  });

  app.get<{ Querystring: { from?: string; to?: string; role?: string; limit?: number; cursor?: string } }>('/api/v1/ledger/entries', {
    config: { auth: ledgerReaders },
    schema: {
      tags: ['ledger'],
      summary: 'Ledger entries (usage records with department and gateway), oldest first, paginated by cursor',
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ...rangeQuery,
          role: { type: 'string', minLength: 1, maxLength: 128 },
          limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          cursor: { type: 'string', minLength: 1, maxLength: 512 },
        },
      },
      response: {
        200: { type: 'object', required: ['entries'], properties: { entries: { type: 'array', items: ledgerEntrySchema }, nextCursor: { type: 'string' } } },
        400: { $ref: 'ErrorResponse#' },
        ...authErrorResponses,
      },
    },
  }, async (request) => {
    const q = request.query;
    const { from, to } = range(q, Date.now());
    try {
      return await ledger.entries(services.tenant, { from, to, limit: q.limit ?? 100, ...(q.role ? { role: q.role } : {}), ...(q.cursor ? { cursor: q.cursor } : {}) });
    } catch (err) {
      if (err instanceof InvalidCursorError) throw new HttpError(400, err.message);
      throw err;
    }
  });

  app.post<{ Body: { userId: string; role: string; gatewayId: string; amountUsd: number; minUsd: number; ttlMs: number } }>('/api/v1/ledger/leases', {
    schema: {
      tags: ['ledger'],
      summary: 'Draw a budget lease: an allowance a gateway spends locally, granted only from what is left of every budget in the scope chain',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['userId', 'role', 'gatewayId', 'amountUsd', 'minUsd', 'ttlMs'],
        properties: {
          userId: { type: 'string', minLength: 1, maxLength: 256 },
          role: { type: 'string', minLength: 1, maxLength: 128 },
          gatewayId: { type: 'string', minLength: 1, maxLength: 128 },
          amountUsd: { type: 'number', exclusiveMinimum: 0, maximum: 1_000_000 },
          minUsd: { type: 'number', minimum: 0, maximum: 1_000_000 },
          ttlMs: { type: 'integer', minimum: 1000, maximum: 86_400_000 },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['leaseId', 'scopes', 'amountUsd', 'expiresAt'],
          properties: { leaseId: { type: 'string' }, scopes: { type: 'array', items: { type: 'string' } }, amountUsd: money, expiresAt: isoTime },
        },
        400: { $ref: 'ErrorResponse#' },
        402: { $ref: 'ErrorResponse#' },
        ...authErrorResponses,
      },
    },
  }, async (request) => {
    const caller = request.caller!;
    const body = request.body;
    mayActFor(caller, body.userId, body.role);
    if (body.minUsd > body.amountUsd) throw new HttpError(400, `minUsd (${body.minUsd}) must not be above amountUsd (${body.amountUsd})`);
    const facts = await services.directory.personFacts(body.userId);
    const result = await ledger.grant(services.tenant, caller.subject, { ...body, ...(facts?.department ? { department: facts.department } : {}) });
    if (!result.ok) {
      const b = result.blocking;
      throw new HttpError(
        402,
        `org budget reached: the ${b.window} budget for ${b.scope} "${b.id}" is $${b.limitUsd.toFixed(2)}; $${b.spentUsd.toFixed(4)} is spent and ` +
          `$${b.leasedOutstandingUsd.toFixed(4)} is held by gateways, $${result.availableUsd.toFixed(4)} is left and this request needs $${body.minUsd.toFixed(4)}. ` +
          `It resets at ${new Date(b.windowEnd).toISOString()}.`,
      );
    }
    return result.grant;
  });

  app.post<{ Params: { leaseId: string }; Body: { spentUsd: number } }>('/api/v1/ledger/leases/:leaseId/release', {
    schema: {
      tags: ['ledger'],
      summary: 'Return a lease: the gateway is done with it and spent `spentUsd` on it (the rest goes back to the budgets)',
      params: { type: 'object', required: ['leaseId'], properties: { leaseId: { type: 'string', minLength: 1, maxLength: 128 } } },
      body: { type: 'object', additionalProperties: false, required: ['spentUsd'], properties: { spentUsd: { type: 'number', minimum: 0 } } },
      response: { 204: { type: 'null' }, 404: { $ref: 'ErrorResponse#' }, ...authErrorResponses },
    },
  }, async (request, reply) => {
    try {
      await ledger.release(services.tenant, request.caller!.subject, request.params.leaseId, request.body.spentUsd);
    } catch (err) {
      if (err instanceof UnknownLeaseError) throw new HttpError(404, err.message);
      throw err;
    }
    return reply.code(204).send();
  });

  app.post<{ Body: { rules: unknown; role?: string; from?: string; to?: string; assumeBudget?: BudgetState } }>('/api/v1/rules/simulate', {
    config: { auth: ledgerReaders },
    schema: {
      tags: ['ledger'],
      summary: 'Replay candidate downshift rules against the org\'s recorded usage (ledger entries) and project cost and savings',
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['rules'],
        properties: {
          rules: { type: 'object', description: 'a downshift rules document (policies/schema/downshift.schema.json)' },
          role: { type: 'string', minLength: 1, maxLength: 128 },
          ...rangeQuery,
          assumeBudget: { enum: ['ok', 'soft', 'hard'], default: 'ok', description: 'budget pressure assumed for rules with a budget condition' },
        },
      },
      response: {
        200: {
          type: 'object',
          required: ['requests', 'baselineCostUsd', 'simulatedCostUsd', 'savingsUsd', 'downshifted', 'byRule', 'from', 'to', 'passedThrough', 'unpriced', 'caveat'],
          properties: {
            from: isoTime,
            to: isoTime,
            requests: { type: 'integer' },
            baselineCostUsd: { ...money, description: 'what the requests really cost' },
            simulatedCostUsd: { ...money, description: 'what they would have cost under the candidate rules' },
            savingsUsd: money,
            downshifted: { type: 'integer', description: 'requests a candidate rule would change (model or output cap)' },
            passedThrough: { type: 'integer', description: 'cache hits and failed requests, kept as they were' },
            unpriced: { type: 'integer', description: 'requests kept at their actual cost because a price was unknown' },
            caveat: { type: 'string' },
            byRule: {
              type: 'array',
              items: {
                type: 'object',
                required: ['rule', 'requests', 'changed', 'actualUsd', 'projectedUsd', 'savingsUsd', 'models'],
                properties: {
                  rule: { type: 'string' }, requests: { type: 'integer' }, changed: { type: 'integer' }, actualUsd: money, projectedUsd: money, savingsUsd: money,
                  models: { type: 'object', additionalProperties: { type: 'integer' } },
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
    const body = request.body;
    let set;
    try {
      set = parseDownshiftRules(body.rules, 'rules');
    } catch (err) {
      if (err instanceof DownshiftRulesError) throw new HttpError(400, `invalid downshift rules: ${err.problems.join('; ')}`);
      throw err;
    }
    const { from, to } = range(body, Date.now());
    const reg = registryNow();
    const entries = [];
    for await (const e of ledger.allEntries(services.tenant, { from, to, ...(body.role ? { role: body.role } : {}) })) entries.push(e);
    const report = simulateRules(entries, new DownshiftRules(set, registryLookup(reg)), (id) => reg.get(id), { assumeBudget: body.assumeBudget ?? 'ok' });
    return {
      from: new Date(from).toISOString(),
      to: new Date(to).toISOString(),
      requests: report.records,
      baselineCostUsd: report.actualUsd,
      simulatedCostUsd: report.projectedUsd,
      savingsUsd: report.savingUsd,
      downshifted: report.rules.reduce((n, r) => n + r.changed, 0),
      passedThrough: report.passedThrough,
      unpriced: report.unpriced,
      caveat: report.caveat,
      byRule: report.rules.map((r) => ({ rule: r.rule, requests: r.requests, changed: r.changed, actualUsd: r.actualUsd, projectedUsd: r.projectedUsd, savingsUsd: r.savingUsd, models: r.models })),
    };
  });
};
