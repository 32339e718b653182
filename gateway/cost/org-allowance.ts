/**
 * Org budgets from the gateway's side: draws budget leases from the controller's org ledger and
 * spends them locally, so a request needs no round trip while its caller's lease has room
 * (docs/budgets.md).
 *
 * - A lease is renewed in the background once `renewAtFraction` of it is used or it is within
 *   `renewBeforeExpiryMs` of expiry; a request that does not fit waits for a new lease. The old
 *   lease is released (with what was spent on it) when its last request settles.
 * - With leases off (strict mode) every request draws a lease of exactly its worst-case cost and
 *   releases it when it finishes: the controller sees every request before it runs.
 * - The controller refusing (402) refuses the request with its message. The controller being
 *   unreachable (network error, timeout, 5xx) with no usable lease: the gateway spends up to
 *   `offlineSafetyLimitUsd` on its own, then answers 402 saying so. The offline allowance comes
 *   back once the controller answers again.
 * Spend itself reaches the controller as usage records in the audit batches, each naming its
 * lease, which is how the controller settles leases against reported spend.
 */
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import { formatUsd } from './pricing.js';
import { controllerFetch } from '../controller-tls.js';
import type { LeaseGrant, LeaseRequest } from '../../models/ledger-contract.js';

export interface OrgBudgetConfig {
  /** Draw allowances from the controller's org ledger (needs a `controller:` link). */
  enabled: boolean;
  /** false = strict mode: every request asks the controller. */
  leases: boolean;
  /** Size of a lease asked for (a request that costs more asks for its own cost). */
  leaseUsd: number;
  leaseTtlMs: number;
  /** Renew in the background once this fraction of a lease is spent or reserved. */
  renewAtFraction: number;
  renewBeforeExpiryMs: number;
  /** What the gateway may spend on its own while the controller is unreachable and no lease is left. */
  offlineSafetyLimitUsd: number;
  requestTimeoutMs: number;
}

export function defaultOrgBudgetConfig(): OrgBudgetConfig {
  return { enabled: false, leases: true, leaseUsd: 1, leaseTtlMs: 5 * 60_000, renewAtFraction: 0.5, renewBeforeExpiryMs: 30_000, offlineSafetyLimitUsd: 0.25, requestTimeoutMs: 5_000 };
}

export const orgBudgetConfigSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enabled: { type: 'boolean' },
    leases: { type: 'boolean' },
    leaseUsd: { type: 'number', exclusiveMinimum: 0 },
    leaseTtlMs: { type: 'integer', minimum: 1000, maximum: 86_400_000 },
    renewAtFraction: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    renewBeforeExpiryMs: { type: 'integer', minimum: 0 },
    offlineSafetyLimitUsd: { type: 'number', minimum: 0 },
    requestTimeoutMs: { type: 'integer', minimum: 100 },
  },
} as const;

interface Lease {
  readonly id: string;
  readonly amountUsd: number;
  readonly expiresAt: number;
  spentUsd: number;
  reservedUsd: number;
  open: number;
  /** No new requests go on it; released when `open` reaches 0. */
  retired: boolean;
  released: boolean;
}

/** What one request holds until it settles. */
export type AllowanceHold =
  | { kind: 'lease'; lease: Lease; amountUsd: number; settled: boolean; key: string }
  | { kind: 'offline'; amountUsd: number; settled: boolean };

export interface AllowanceCaller {
  userId: string;
  role: string;
}

type DrawResult = { kind: 'granted'; grant: LeaseGrant } | { kind: 'refused'; message: string } | { kind: 'unreachable'; reason: string };

export interface OrgAllowanceOptions {
  config: OrgBudgetConfig;
  controllerUrl: string;
  token: () => string | Promise<string>;
  /** This gateway's id on the ledger (its audit chain id). */
  gatewayId: string;
  log: Logger;
  now?: () => number;
}

export class OrgAllowance {
  private readonly current = new Map<string, Lease>();
  private readonly renewing = new Map<string, Promise<DrawResult>>();
  private offlineSpentUsd = 0;
  private offlineReservedUsd = 0;
  private readonly now: () => number;
  private readonly base: string;

  constructor(private readonly opts: OrgAllowanceOptions) {
    this.now = opts.now ?? Date.now;
    this.base = opts.controllerUrl.replace(/\/+$/, '');
  }

  get config(): OrgBudgetConfig {
    return this.opts.config;
  }

  /** Reserves `amountUsd` for one request, or throws GatewayError 402. */
  async reserve(caller: AllowanceCaller, amountUsd: number): Promise<AllowanceHold> {
    const key = `${caller.userId}\u0000${caller.role}`;
    if (!this.opts.config.leases) {
      const drawn = await this.draw(caller, amountUsd, amountUsd);
      if (drawn.kind === 'granted') {
        const lease = this.leaseOf(drawn.grant);
        lease.retired = true;
        return this.hold(lease, amountUsd, key);
      }
      return this.fallback(drawn, amountUsd);
    }
    let last: DrawResult | undefined;
    for (let attempt = 0; attempt < 3; attempt++) {
      const lease = this.current.get(key);
      if (lease && this.fits(lease, amountUsd)) {
        const hold = this.hold(lease, amountUsd, key);
        if (this.wantsRenewal(lease)) void this.renew(key, caller, 0);
        return hold;
      }
      last = await this.renew(key, caller, amountUsd);
      if (last.kind !== 'granted') break;
    }
    return this.fallback(last ?? { kind: 'refused', message: 'no lease could be drawn' }, amountUsd);
  }

  /** Replaces the hold with the actual cost; returns the lease id the cost was spent on. Idempotent. */
  settle(hold: AllowanceHold, actualUsd: number): string | undefined {
    if (hold.settled) return hold.kind === 'lease' ? hold.lease.id : undefined;
    hold.settled = true;
    if (hold.kind === 'offline') {
      this.offlineReservedUsd = Math.max(0, this.offlineReservedUsd - hold.amountUsd);
      this.offlineSpentUsd += actualUsd;
      return undefined;
    }
    const lease = hold.lease;
    lease.open--;
    lease.reservedUsd = lease.open === 0 ? 0 : Math.max(0, lease.reservedUsd - hold.amountUsd);
    lease.spentUsd += actualUsd;
    if (lease.retired && lease.open === 0) void this.release(lease);
    return lease.id;
  }

  /** Releases every lease (gateway shutdown), so its unspent budget goes back at once. */
  async close(): Promise<void> {
    const all = [...this.current.values()];
    this.current.clear();
    for (const lease of all) {
      lease.retired = true;
      if (lease.open === 0) await this.release(lease);
    }
  }

  private fits(lease: Lease, amountUsd: number): boolean {
    return !lease.retired && this.now() < lease.expiresAt && lease.amountUsd - lease.spentUsd - lease.reservedUsd >= amountUsd;
  }

  private wantsRenewal(lease: Lease): boolean {
    const used = lease.spentUsd + lease.reservedUsd;
    return used >= this.opts.config.renewAtFraction * lease.amountUsd || lease.expiresAt - this.now() <= this.opts.config.renewBeforeExpiryMs;
  }

  private hold(lease: Lease, amountUsd: number, key: string): AllowanceHold {
    lease.reservedUsd += amountUsd;
    lease.open++;
    return { kind: 'lease', lease, amountUsd, settled: false, key };
  }

  private leaseOf(grant: LeaseGrant): Lease {
    return { id: grant.leaseId, amountUsd: grant.amountUsd, expiresAt: Date.parse(grant.expiresAt), spentUsd: 0, reservedUsd: 0, open: 0, retired: false, released: false };
  }

  /** One lease draw per caller at a time; the new lease replaces (and retires) the current one. */
  private renew(key: string, caller: AllowanceCaller, needUsd: number): Promise<DrawResult> {
    const running = this.renewing.get(key);
    if (running) return running;
    const wanted = Math.max(this.opts.config.leaseUsd, needUsd);
    const p = this.draw(caller, wanted, needUsd).then((r) => {
      if (r.kind === 'granted') {
        const old = this.current.get(key);
        this.current.set(key, this.leaseOf(r.grant));
        if (old) {
          old.retired = true;
          if (old.open === 0) void this.release(old);
        }
      }
      return r;
    }).finally(() => this.renewing.delete(key));
    this.renewing.set(key, p);
    return p;
  }

  private fallback(result: DrawResult, amountUsd: number): AllowanceHold {
    if (result.kind === 'refused') {
      throw new GatewayError(402, `Org budget limit reached: ${result.message} Ask your administrator if you need a higher budget.`, 'insufficient_quota', 'org_budget_limit_reached');
    }
    if (result.kind === 'granted') {
      throw new GatewayError(402, 'Org budget: the controller granted less than this request may cost; try a cheaper model or a shorter answer.', 'insufficient_quota', 'org_budget_limit_reached');
    }
    const limit = this.opts.config.offlineSafetyLimitUsd;
    if (this.offlineSpentUsd + this.offlineReservedUsd + amountUsd <= limit) {
      this.offlineReservedUsd += amountUsd;
      this.opts.log.warn({ reason: result.reason, offlineSpentUsd: this.offlineSpentUsd, offlineSafetyLimitUsd: limit }, 'org budget: controller unreachable, spending from the local offline allowance');
      return { kind: 'offline', amountUsd, settled: false };
    }
    throw new GatewayError(
      402,
      `Org budget: the controller cannot be reached (${result.reason}) and this gateway's offline allowance of $${formatUsd(limit)} is used up ` +
        `($${formatUsd(this.offlineSpentUsd + this.offlineReservedUsd)} spent or reserved). Requests resume when the controller is reachable again.`,
      'insufficient_quota',
      'org_budget_offline_limit_reached',
    );
  }

  private async draw(caller: AllowanceCaller, amountUsd: number, minUsd: number): Promise<DrawResult> {
    const body: LeaseRequest = { userId: caller.userId, role: caller.role, gatewayId: this.opts.gatewayId, amountUsd, minUsd, ttlMs: this.opts.config.leaseTtlMs };
    let res: Response;
    let text: string;
    try {
      const token = await this.opts.token();
      res = await controllerFetch(`${this.base}/api/v1/ledger/leases`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.opts.config.requestTimeoutMs),
      });
      text = await res.text();
    } catch (err) {
      return { kind: 'unreachable', reason: (err as Error).message };
    }
    if (res.status >= 500) return { kind: 'unreachable', reason: `controller answered HTTP ${res.status}` };
    const message = (() => {
      try {
        return String((JSON.parse(text) as { message?: unknown }).message ?? text);
      } catch {
        return text.slice(0, 300);
      }
    })();
    if (!res.ok) {
      if (res.status !== 402) this.opts.log.error({ status: res.status, message }, 'org budget: the controller refused the lease request');
      return { kind: 'refused', message: res.status === 402 ? message : `the controller refused the budget lease (HTTP ${res.status}: ${message}).` };
    }
    this.offlineSpentUsd = 0;
    return { kind: 'granted', grant: JSON.parse(text) as LeaseGrant };
  }

  private async release(lease: Lease): Promise<void> {
    if (lease.released) return;
    lease.released = true;
    try {
      const token = await this.opts.token();
      const res = await controllerFetch(`${this.base}/api/v1/ledger/leases/${encodeURIComponent(lease.id)}/release`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ spentUsd: lease.spentUsd }),
        signal: AbortSignal.timeout(this.opts.config.requestTimeoutMs),
      });
      await res.text();
      if (!res.ok) this.opts.log.warn({ lease: lease.id, status: res.status }, 'org budget: lease release refused');
    } catch (err) {
      // The controller stops holding the lease back at its expiry (plus its grace) anyway.
      this.opts.log.debug({ lease: lease.id, err: (err as Error).message }, 'org budget: lease release failed');
    }
  }
}
