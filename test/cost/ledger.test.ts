import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BudgetLedger, windowEnd, windowStart } from '../../gateway/cost/ledger.js';
import { BudgetConfigError, budgetsFor, mergeBudgetPolicies, parseBudgetPolicy, type BudgetPolicy } from '../../policies/budgets.js';
import type { SpendScope } from '../../models/usage-store.js';

const caller = { tenantId: 'acme', userId: 'alice', role: 'engineering' };

describe('budget definitions', () => {
  it('validates with clear messages', () => {
    assert.throws(() => parseBudgetPolicy({ tenant: { daily: { limitUsd: -1 } } }), (e: unknown) => e instanceof BudgetConfigError && /budgets\.tenant\.daily\.limitUsd: must be > 0/.test(e.message));
    assert.throws(() => parseBudgetPolicy({ tenant: { weekly: { limitUsd: 1 } } }), /budgets\.tenant\.weekly: unknown key/);
    assert.throws(() => parseBudgetPolicy({ users: { bob: { daily: { limitUsd: 1, softLimitUsd: 2 } } } }), /users\.bob\.daily\.softLimitUsd \(2\) must not be above limitUsd \(1\)/);
    assert.deepEqual(parseBudgetPolicy({ perUser: { monthly: { limitUsd: 50 } } }), { perUser: { monthly: { limitUsd: 50 } } });
  });

  it('applies tenant, role and user (named user replaces perUser) limits with an 80% default soft limit', () => {
    const policy: BudgetPolicy = {
      tenant: { monthly: { limitUsd: 500 } },
      roles: { engineering: { daily: { limitUsd: 40, softLimitUsd: 10 } } },
      users: { alice: { daily: { limitUsd: 5 } } },
      perUser: { daily: { limitUsd: 20 } },
    };
    const active = budgetsFor(policy, caller);
    assert.deepEqual(active.map((b) => [b.scopeKey, b.window, b.limitUsd, b.softLimitUsd]), [
      ['tenant:acme', 'monthly', 500, 400],
      ['role:acme/engineering', 'daily', 40, 10],
      ['user:acme/alice', 'daily', 5, 4],
    ]);
    assert.equal(budgetsFor(policy, { ...caller, userId: 'bob' }).find((b) => b.scope.kind === 'user')?.limitUsd, 20);
    assert.deepEqual(budgetsFor(undefined, caller), []);
  });

  it('policy budgets replace config budgets per scope', () => {
    const merged = mergeBudgetPolicies({ tenant: { monthly: { limitUsd: 500 } }, roles: { a: { daily: { limitUsd: 1 } } } }, { roles: { a: { daily: { limitUsd: 2 } } } });
    assert.deepEqual(merged, { tenant: { monthly: { limitUsd: 500 } }, roles: { a: { daily: { limitUsd: 2 } } }, users: {} });
  });
});

describe('budget ledger', () => {
  it('uses UTC calendar windows', () => {
    const t = Date.UTC(2026, 1, 28, 23, 59);
    assert.equal(windowStart('daily', t), Date.UTC(2026, 1, 28));
    assert.equal(windowEnd('daily', t), Date.UTC(2026, 2, 1));
    assert.equal(windowStart('monthly', t), Date.UTC(2026, 1, 1));
    assert.equal(windowEnd('monthly', Date.UTC(2026, 11, 15)), Date.UTC(2027, 0, 1));
  });

  it('seeds from recorded spend, reserves, settles to actual and reports soft/hard', () => {
    const seeded: Array<[SpendScope, number]> = [];
    let now = Date.UTC(2026, 10, 20, 10);
    const ledger = new BudgetLedger((scope, since) => {
      seeded.push([scope, since]);
      return 7;
    }, () => now);
    const budgets = budgetsFor({ perUser: { daily: { limitUsd: 10 } } }, caller);
    assert.deepEqual(ledger.standings(budgets).map((s) => [s.spentUsd, s.state]), [[7, 'ok']]);
    const r = ledger.reserve(budgets, 1.5);
    assert.ok(r.ok);
    assert.deepEqual(ledger.standings(budgets).map((s) => [s.reservedUsd, s.state]), [[1.5, 'soft']]);
    ledger.settle(r.reservation, 0.5);
    ledger.settle(r.reservation, 0.5); // idempotent
    assert.deepEqual(ledger.standings(budgets).map((s) => [s.spentUsd, s.reservedUsd]), [[7.5, 0]]);
    const denied = ledger.reserve(budgets, 3);
    assert.equal(denied.ok, false);
    assert.ok(!denied.ok && Math.abs(denied.blocking.remainingUsd - 2.5) < 1e-9);
    assert.equal(seeded.length, 1, 'seeded once per window');

    // Next day: re-seeded from the store; a reservation made yesterday settles into yesterday only.
    const late = ledger.reserve(budgets, 1);
    assert.ok(late.ok);
    now += 86_400_000;
    assert.equal(ledger.standings(budgets)[0]!.reservedUsd, 0);
    ledger.settle(late.reservation, 1);
    assert.equal(ledger.standings(budgets)[0]!.spentUsd, 7);
    assert.equal(seeded.length, 2);
  });

  it('never lets concurrent reservations overspend a limit', async () => {
    const ledger = new BudgetLedger(() => 9.5);
    const budgets = budgetsFor({ tenant: { daily: { limitUsd: 10 } }, perUser: { daily: { limitUsd: 100 } } }, caller);
    let granted = 0;
    let actualTotal = 9.5;
    await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        await new Promise((r) => setTimeout(r, i % 7));
        const r = ledger.reserve(budgets, 0.1);
        if (!r.ok) return;
        granted++;
        await new Promise((res) => setTimeout(res, 1 + (i % 5)));
        const actual = 0.1 * ((i % 3) / 2); // 0, 0.05 or 0.1 — never above the reservation
        actualTotal += actual;
        ledger.settle(r.reservation, actual);
      }),
    );
    assert.ok(granted >= 4, `granted ${granted}`); // at least the initial headroom; more as settlements free it
    assert.ok(actualTotal <= 10 + 1e-9, `spent ${actualTotal}`);
    const [tenant] = ledger.standings(budgets);
    assert.equal(tenant!.reservedUsd, 0);
    assert.ok(Math.abs(tenant!.spentUsd - actualTotal) < 1e-9);
  });
});
