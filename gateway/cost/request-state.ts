/**
 * What the budget stages hand to the meter for one request, kept off RequestNotes because it
 * holds live objects (the reservation), not facts for logs and audit.
 */
import type { RequestContext } from '../context.js';
import type { ActiveBudget, BudgetWindow } from '../../policies/budgets.js';
import type { Reservation } from './ledger.js';
import type { AllowanceHold } from './org-allowance.js';

export interface RequestCostState {
  /** Whether the client itself asked for a usage chunk in its stream (stream_options.include_usage). */
  clientWantsStreamUsage?: boolean;
  /** Budgets that applied, and the reservation made against them. */
  budgets?: ActiveBudget[];
  reservation?: Reservation;
  /** The org allowance (controller lease) this request holds. */
  allowance?: AllowanceHold;
  /** Tightest budget before this request, for the response's budget headers. */
  tightest?: { scopeKey: string; window: BudgetWindow; limitUsd: number; remainingUsd: number; resetsAt: number };
  /** Output cap the gateway set so the request fits the remaining budget. */
  cappedMaxTokens?: number;
}

const states = new WeakMap<RequestContext, RequestCostState>();

export function costState(ctx: RequestContext): RequestCostState {
  let s = states.get(ctx);
  if (!s) {
    s = {};
    states.set(ctx, s);
  }
  return s;
}

export function peekCostState(ctx: RequestContext): RequestCostState | undefined {
  return states.get(ctx);
}
