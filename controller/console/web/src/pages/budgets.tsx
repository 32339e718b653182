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

/**
 * The window as evenly spaced ticks (hours of a day window, days of a month window) in the
 * budget's time zone, so "now" sits where it really is between the window's start and end.
 */
export function windowTicks(b: Pick<Budget, 'window' | 'timeZone' | 'windowStart' | 'windowEnd'>, now: number): { labels: string[]; nowIndex: number } {
  const start = Date.parse(b.windowStart);
  const end = Date.parse(b.windowEnd);
  const step = b.window === 'day' ? 3_600_000 : 86_400_000;
  const n = Math.max(2, Math.round((end - start) / step));
  const format = new Intl.DateTimeFormat('en-GB', b.window === 'day' ? { timeZone: b.timeZone, hour: '2-digit', minute: '2-digit' } : { timeZone: b.timeZone, day: 'numeric', month: 'short' });
  const labels = Array.from({ length: n + 1 }, (_, i) => format.format(new Date(i === n ? end : start + i * step)));
  const nowIndex = Math.min(n - 1, Math.max(1, Math.round((now - start) / step)));
  return { labels, nowIndex };
}

function BurnDown(props: { budget: Budget; index: number }) {
  const b = props.budget;
  const remainingNow = round(b.limitUsd - b.spentUsd);
  const remainingAtEnd = round(b.limitUsd - b.projectedUsd);
  const over = b.projectedUsd > b.limitUsd;
  const { labels, nowIndex } = windowTicks(b, Date.now());
  const at = (points: Record<number, number>) => labels.map((_, i) => points[i] ?? null);
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
        title={`Remaining budget, ${dateTime(b.windowStart)} to ${dateTime(b.windowEnd)}; dashed: straight-line projection`}
        yLabel="USD left"
        labels={labels}
        series={[
          { label: 'Remaining', values: at({ 0: b.limitUsd, [nowIndex]: remainingNow }), color: '#1e88e5', spanGaps: true },
          { label: 'Projected', values: at({ [nowIndex]: remainingNow, [labels.length - 1]: remainingAtEnd }), color: over ? '#e53935' : '#8e24aa', dashed: true, spanGaps: true },
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
