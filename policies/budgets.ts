/**
 * Budget definitions (the `budgets` section of a policy and of the `cost:` config section,
 * schema in policies/schema/budgets.schema.json) and which of them apply to one caller.
 */
import { Ajv } from 'ajv';
import budgetsSchema from './schema/budgets.schema.json' with { type: 'json' };
import type { SpendScope } from '../models/usage-store.js';

export { budgetsSchema };

export interface BudgetWindowLimit {
  limitUsd: number;
  /** Pressure threshold; default DEFAULT_SOFT_FRACTION × limitUsd. */
  softLimitUsd?: number;
}

export interface BudgetLimits {
  daily?: BudgetWindowLimit;
  monthly?: BudgetWindowLimit;
}

export interface BudgetPolicy {
  tenant?: BudgetLimits;
  roles?: Record<string, BudgetLimits>;
  users?: Record<string, BudgetLimits>;
  perUser?: BudgetLimits;
}

export const DEFAULT_SOFT_FRACTION = 0.8;
export type BudgetWindow = 'daily' | 'monthly';
const WINDOWS: readonly BudgetWindow[] = ['daily', 'monthly'];

/** One limit that applies to a request: scope + window + amounts. */
export interface ActiveBudget {
  scope: SpendScope;
  /** Stable key, e.g. "user:acme/alice" — also shown in headers and notes. */
  scopeKey: string;
  window: BudgetWindow;
  limitUsd: number;
  softLimitUsd: number;
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validateBudgets = ajv.compile(budgetsSchema);

export class BudgetConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BudgetConfigError';
  }
}

/** Soft limits above their hard limit (the schema cannot say that), as "key: problem" lines. */
export function softLimitProblems(policy: BudgetPolicy | undefined, where: string): string[] {
  const problems: string[] = [];
  const check = (limits: BudgetLimits | undefined, path: string) => {
    for (const w of WINDOWS) {
      const l = limits?.[w];
      if (l?.softLimitUsd !== undefined && l.softLimitUsd > l.limitUsd) {
        problems.push(`${where}.${path}.${w}.softLimitUsd (${l.softLimitUsd}) must not be above limitUsd (${l.limitUsd})`);
      }
    }
  };
  if (!policy) return problems;
  check(policy.tenant, 'tenant');
  check(policy.perUser, 'perUser');
  for (const [k, v] of Object.entries(policy.roles ?? {})) check(v, `roles.${k}`);
  for (const [k, v] of Object.entries(policy.users ?? {})) check(v, `users.${k}`);
  return problems;
}

/** Validates a budgets section; throws BudgetConfigError naming the key and problem. */
export function parseBudgetPolicy(raw: unknown, where = 'budgets'): BudgetPolicy {
  if (!validateBudgets(raw)) {
    const problems = (validateBudgets.errors ?? []).map((e) => {
      const key = [where, ...e.instancePath.split('/').slice(1)].join('.');
      if (e.keyword === 'additionalProperties') return `${key}.${(e.params as { additionalProperty: string }).additionalProperty}: unknown key`;
      return `${key}: ${e.message ?? 'is invalid'}`;
    });
    throw new BudgetConfigError(problems.join('; '));
  }
  const policy = raw as BudgetPolicy;
  const problems = softLimitProblems(policy, where);
  if (problems.length > 0) throw new BudgetConfigError(problems.join('; '));
  return policy;
}

/** Config budgets overlaid with policy budgets: a policy entry replaces the config's for the same scope. */
export function mergeBudgetPolicies(base: BudgetPolicy | undefined, over: BudgetPolicy | undefined): BudgetPolicy | undefined {
  if (!base) return over;
  if (!over) return base;
  return {
    ...((over.tenant ?? base.tenant) ? { tenant: over.tenant ?? base.tenant } : {}),
    ...((over.perUser ?? base.perUser) ? { perUser: over.perUser ?? base.perUser } : {}),
    roles: { ...base.roles, ...over.roles },
    users: { ...base.users, ...over.users },
  };
}

export interface BudgetCaller {
  tenantId: string;
  userId: string;
  role: string;
}

function push(out: ActiveBudget[], limits: BudgetLimits | undefined, scope: SpendScope, scopeKey: string): void {
  if (!limits) return;
  for (const window of WINDOWS) {
    const l = limits[window];
    if (!l) continue;
    out.push({ scope, scopeKey, window, limitUsd: l.limitUsd, softLimitUsd: l.softLimitUsd ?? l.limitUsd * DEFAULT_SOFT_FRACTION });
  }
}

/** Every limit that applies to this caller: tenant, their role, and them (named or perUser). */
export function budgetsFor(policy: BudgetPolicy | undefined, caller: BudgetCaller): ActiveBudget[] {
  if (!policy) return [];
  const out: ActiveBudget[] = [];
  const { tenantId, userId, role } = caller;
  push(out, policy.tenant, { kind: 'tenant', tenantId }, `tenant:${tenantId}`);
  push(out, policy.roles?.[role], { kind: 'role', tenantId, role }, `role:${tenantId}/${role}`);
  push(out, policy.users?.[userId] ?? policy.perUser, { kind: 'user', tenantId, userId }, `user:${tenantId}/${userId}`);
  return out;
}
