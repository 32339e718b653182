/**
 * Policy evaluation with Cedar (@cedar-policy/cedar-wasm): RBAC through the entity hierarchy
 * (User in Role, User in Department) plus ABAC on principal, resource and context attributes
 * (department, data class, amount, budget state, time). The policy set is parsed once per
 * version and evaluated statefully; each call only ships the few entities of the request.
 * Decisions are memoised per exact Cedar request (time enters only as hour and weekday), so
 * the common repeated checks of a gateway skip the Wasm boundary altogether.
 */
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { LRUCache } from 'lru-cache';
import type { ProfileCatalog } from '../profiles/catalog.js';
import type { AttributeValue } from '../directory/types.js';
import { basePolicies, type NamedPolicy } from './base-policies.js';
import { policiesForProfile } from './profile-policies.js';

export type BudgetState = 'ok' | 'soft' | 'hard';
export const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;

/** The principal as resolved from the directory (or from the request when not in the directory). */
export interface EvaluationPrincipal {
  id: string;
  roles: readonly string[];
  department?: string | null;
  team?: string | null;
  attributes?: Readonly<Record<string, AttributeValue>>;
}

export interface EvaluationInput {
  principal: EvaluationPrincipal;
  /** e.g. model.call, extension.use, skill.use, data.send, data.read, payment.approve. */
  action: string;
  /** `type` is lower-case (model, extension, data …); it becomes the Cedar entity type (Model, Extension, Data). */
  resource: { type: string; id: string; attributes?: Readonly<Record<string, AttributeValue>> };
  context?: {
    /** ISO time of the action; default now. Cedar sees `hour` (0-23 UTC) and `weekday` (sun…sat). */
    time?: string;
    budgetState?: BudgetState;
    /** Money amount in major units (USD); Cedar sees `amountCents` (integer). */
    amount?: number;
    dataClass?: string;
    attributes?: Readonly<Record<string, AttributeValue>>;
  };
}

export interface EvaluationResult {
  readonly allow: boolean;
  readonly reasons: readonly string[];
  /** Ids of the rules that decided (permits for allow, forbids for deny). */
  readonly policies: readonly string[];
  readonly policyVersion: string;
}

export const DEFAULT_DECISION_CACHE_SIZE = 10_000;

export class PolicyConfigError extends Error {
  override name = 'PolicyConfigError';
}

const CEDAR_SAFE_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export class PolicyEvaluator {
  private readonly decisions: LRUCache<string, EvaluationResult> | undefined;

  private constructor(
    readonly version: string,
    private readonly reasons: ReadonlyMap<string, string>,
    cacheSize: number,
    private readonly profiles: ProfileCatalog,
  ) {
    this.decisions = cacheSize > 0 ? new LRUCache({ max: cacheSize }) : undefined;
  }

  /** Builds and pre-parses the policy set for a catalog version; a bad rule names its id. */
  static async create(profiles: ProfileCatalog, opts: { cacheSize?: number } = {}): Promise<PolicyEvaluator> {
    const all: NamedPolicy[] = [...basePolicies, ...profiles.all().flatMap(policiesForProfile)];
    const texts: Record<string, string> = {};
    const reasons = new Map<string, string>();
    for (const p of all) {
      if (p.id in texts) throw new PolicyConfigError(`policy rule id "${p.id}" is used twice`);
      const parts = cedar.policySetTextToParts(p.cedar);
      if (parts.type === 'failure') throw new PolicyConfigError(`policy rule ${p.id}: ${parts.errors.map((e) => e.message).join('; ')}`);
      if (parts.policies.length !== 1 || parts.policy_templates.length > 0) {
        throw new PolicyConfigError(`policy rule ${p.id}: must hold exactly one Cedar policy (found ${parts.policies.length})`);
      }
      texts[p.id] = p.cedar;
      reasons.set(p.id, p.reason);
    }
    const version = `cedar-${profiles.version}`;
    const parsed = cedar.preparsePolicySet(version, { staticPolicies: texts });
    if (parsed.type === 'failure') throw new PolicyConfigError(`policy set: ${parsed.errors.map((e) => e.message).join('; ')}`);
    return new PolicyEvaluator(version, reasons, opts.cacheSize ?? DEFAULT_DECISION_CACHE_SIZE, profiles);
  }

  evaluate(input: EvaluationInput): EvaluationResult {
    const { principal, resource } = input;
    const principalUid = { type: 'User', id: principal.id };
    const resourceUid = { type: entityType(resource.type), id: resource.id };
    const parents = principal.roles.map((r) => ({ type: 'Role', id: r }));
    if (principal.department) parents.push({ type: 'Department', id: principal.department });
    const principalAttrs = cedarAttrs(principal.attributes);
    if (principal.department) principalAttrs.department = principal.department;
    if (principal.team) principalAttrs.team = principal.team;
    const resourceAttrs = cedarAttrs(resource.attributes);
    resourceAttrs.name = resource.id;
    const context = cedarContext(input.context);

    const key = this.decisions
      ? JSON.stringify([principal.id, parents, principalAttrs, input.action, resourceUid.type, resource.id, resourceAttrs, context])
      : '';
    const cached = this.decisions?.get(key);
    if (cached) return cached;
    const result = this.authorize(input, principalUid, parents, principalAttrs, resourceUid, resourceAttrs, context);
    this.decisions?.set(key, result);
    return result;
  }

  private authorize(
    input: EvaluationInput,
    principalUid: { type: string; id: string },
    parents: Array<{ type: string; id: string }>,
    principalAttrs: CedarAttrs,
    resourceUid: { type: string; id: string },
    resourceAttrs: CedarAttrs,
    context: CedarAttrs,
  ): EvaluationResult {
    const { principal, resource } = input;
    const answer = cedar.statefulIsAuthorized({
      principal: principalUid,
      action: { type: 'Action', id: input.action },
      resource: resourceUid,
      context,
      preparsedPolicySetId: this.version,
      entities: [
        { uid: principalUid, attrs: principalAttrs, parents },
        // A user and a resource may share a type and id only in odd requests; Cedar rejects duplicates.
        ...(resourceUid.type === 'User' && resourceUid.id === principal.id ? [] : [{ uid: resourceUid, attrs: resourceAttrs, parents: [] }]),
      ],
    });
    if (answer.type === 'failure') {
      return { allow: false, reasons: answer.errors.map((e) => `request could not be evaluated: ${e.message}`), policies: [], policyVersion: this.version };
    }
    const { decision, diagnostics } = answer.response;
    const allow = decision === 'allow';
    const reasons: string[] = diagnostics.reason.map((id) => this.reasons.get(id) ?? id);
    if (!allow && reasons.length === 0) {
      reasons.push(`no rule permits ${input.action} on ${resource.type} "${resource.id}" for role(s) ${principal.roles.join(', ') || '(none)'}`);
      reasons.push(...this.explainDeny(input));
    }
    for (const e of diagnostics.errors) reasons.push(`rule ${e.policyId} could not be applied: ${e.error.message}`);
    return { allow, reasons, policies: diagnostics.reason, policyVersion: this.version };
  }

  /** Why the profile-generated permits did not match, per role, for the actions they cover. */
  private explainDeny(input: EvaluationInput): string[] {
    const out: string[] = [];
    for (const role of input.principal.roles) {
      const p = this.profiles.get(role);
      if (!p) {
        out.push(`role ${role} has no profile`);
        continue;
      }
      const name = input.resource.id;
      if (input.action === 'model.call') {
        const tier = input.resource.attributes?.tier;
        if (!p.models.allowed.some((g) => globMatches(g, name))) out.push(`model "${name}" is not in role ${role}'s allowed models`);
        else if (typeof tier === 'string' && p.models.tiers && !(p.models.tiers as string[]).includes(tier)) {
          out.push(`tier ${tier} is not allowed for role ${role} (allowed: ${p.models.tiers.join(', ')})`);
        }
      } else if (input.action === 'extension.use' && !p.extensions.allow.includes(name)) {
        out.push(`extension "${name}" is not on role ${role}'s allowlist`);
      } else if (input.action === 'skill.use' && !(p.skills ?? []).some((sk) => sk.id === name)) {
        out.push(`skill "${name}" is not listed for role ${role}`);
      } else if (input.action === 'data.send' && input.context?.dataClass) {
        const mode = p.guard.classes?.[input.context.dataClass] ?? p.guard.defaultMode;
        if (mode === 'block') out.push(`role ${role}'s guard policy blocks ${input.context.dataClass}`);
      }
    }
    return out;
  }
}

/** Same semantics as Cedar's `like`: `*` matches any run of characters, everything else is literal. */
function globMatches(glob: string, value: string): boolean {
  const re = new RegExp(`^${glob.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(value);
}

function entityType(type: string): string {
  return type
    .split(/[_-]/)
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join('');
}

type CedarAttrs = Record<string, string | number | boolean>;

/** Cedar has no floats: non-integer numbers are passed as strings; unsafe keys are dropped. */
function cedarAttrs(attrs: Readonly<Record<string, AttributeValue>> | undefined): CedarAttrs {
  const out: CedarAttrs = {};
  if (!attrs) return out;
  for (const [k, v] of Object.entries(attrs)) {
    if (!CEDAR_SAFE_KEY.test(k)) continue;
    out[k] = typeof v === 'number' && !Number.isInteger(v) ? String(v) : v;
  }
  return out;
}

function cedarContext(ctx: EvaluationInput['context']): CedarAttrs {
  const when = ctx?.time ? new Date(ctx.time) : new Date();
  const out: CedarAttrs = {
    ...cedarAttrs(ctx?.attributes),
    hour: when.getUTCHours(),
    weekday: WEEKDAYS[when.getUTCDay()]!,
    budgetState: ctx?.budgetState ?? 'ok',
  };
  if (ctx?.amount !== undefined) out.amountCents = Math.round(ctx.amount * 100);
  if (ctx?.dataClass !== undefined) out.dataClass = ctx.dataClass;
  return out;
}
