/**
 * Budget burn-down: what is left of each budget now, and where a straight-line projection of the
 * spend so far ends at the close of the window (GET /api/v1/ledger/budgets).
 */
import { useEffect, useState } from 'preact/hooks';
import { api, describe } from '../api.js';
import { ChartView } from '../chart.js';
import { dateTime, usd } from '../format.js';

interface Budget {
  scope: 'tenant' | 'department' | 'role' | 'user';
  id: string;
  window: 'day' | 'month';
  timeZone: string;
  limitUsd: number;
  spentUsd: number;
  leasedOutstandingUsd: number;
  windowStart: string;
  windowEnd: string;
  projectedUsd: number;
}

const round = (n: number) => Math.round(n * 10_000) / 10_000;

function BurnDown(props: { budget: Budget; index: number }) {
  const b = props.budget;
  const remainingNow = round(b.limitUsd - b.spentUsd);
  const remainingAtEnd = round(b.limitUsd - b.projectedUsd);
  const over = b.projectedUsd > b.limitUsd;
  return (
    <article data-testid={`budget-${b.scope}-${b.id}-${b.window}`}>
      <header>
        <strong>{b.scope} {b.id}</strong> · {b.window} window · {b.timeZone}
      </header>
      <progress class="budget-bar" value={Math.min(b.spentUsd, b.limitUsd)} max={b.limitUsd} />
      <p>
        {usd(b.spentUsd)} of {usd(b.limitUsd)} spent, {usd(b.leasedOutstandingUsd)} leased to gateways.{' '}
        <span class={over ? 'error' : 'ok'}>Projected {usd(b.projectedUsd)} by {dateTime(b.windowEnd)}{over ? ' — over the limit' : ''}.</span>
      </p>
      <ChartView
        id={`burn-down-${props.index}`}
        kind="line"
        title={`Remaining budget, ${dateTime(b.windowStart)} to ${dateTime(b.windowEnd)}`}
        yLabel="USD left"
        labels={['window start', 'now', 'window end']}
        series={[
          { label: 'Remaining', values: [b.limitUsd, remainingNow, null], color: '#1e88e5' },
          { label: 'Projected', values: [null, remainingNow, remainingAtEnd], color: over ? '#e53935' : '#8e24aa', dashed: true },
        ]}
      />
    </article>
  );
}

export function BudgetsPage() {
  const [budgets, setBudgets] = useState<Budget[]>();
  const [error, setError] = useState('');
  useEffect(() => {
    api<{ budgets: Budget[] }>('/api/v1/ledger/budgets').then((r) => setBudgets(r.budgets), (err: unknown) => setError(describe(err)));
  }, []);
  if (error) return <p class="error" role="alert">{error}</p>;
  if (!budgets) return <p aria-busy="true">Loading…</p>;
  if (budgets.length === 0) return <p>No budgets are set. Budgets come from the role profiles and the org ledger settings.</p>;
  return (
    <section>
      {budgets.map((b, i) => <BurnDown key={`${b.scope}:${b.id}:${b.window}`} budget={b} index={i} />)}
    </section>
  );
}
