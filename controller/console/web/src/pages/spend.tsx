/** Spend by day, department, role, user or model, with cache and downshift savings (GET /api/v1/ledger/spend). */
import { useEffect, useState } from 'preact/hooks';
import { api, describe, query } from '../api.js';
import { ChartView } from '../chart.js';
import { int, lastDays, startOfDay, usd } from '../format.js';
// The report's shape is the controller's (GET /api/v1/ledger/spend), so the page cannot drift from it.
import { SPEND_GROUPINGS, type SpendGrouping, type SpendReport } from '../../../../../models/ledger-contract.js';

export function SpendPage() {
  const initial = lastDays(30);
  const [from, setFrom] = useState(initial.from);
  const [to, setTo] = useState(initial.to);
  const [groupBy, setGroupBy] = useState<SpendGrouping>('day');
  const [report, setReport] = useState<SpendReport>();
  const [error, setError] = useState('');
  useEffect(() => {
    setError('');
    api<SpendReport>(`/api/v1/ledger/spend${query({ from: startOfDay(from), to: startOfDay(to), groupBy })}`).then(setReport, (err: unknown) => {
      setReport(undefined);
      setError(describe(err));
    });
  }, [from, to, groupBy]);

  return (
    <section>
      <div class="filters">
        <label>From <input type="date" name="from" value={from} onInput={(e) => setFrom(e.currentTarget.value)} /></label>
        <label>To (exclusive) <input type="date" name="to" value={to} onInput={(e) => setTo(e.currentTarget.value)} /></label>
        <label>
          Group by
          <select name="groupBy" value={groupBy} onChange={(e) => setGroupBy(e.currentTarget.value as SpendGrouping)}>
            {SPEND_GROUPINGS.map((g) => <option key={g} value={g}>{g}</option>)}
          </select>
        </label>
      </div>
      {error && <p class="error" role="alert">{error}</p>}
      {report && (
        <>
          <div class="cards" data-testid="spend-totals">
            <article><h3 data-testid="total-cost">{usd(report.totals.costUsd)}</h3><p>spent ({int(report.totals.requests)} requests)</p></article>
            <article><h3>{usd(report.totals.cacheSavingsUsd)}</h3><p>saved by the cache ({int(report.totals.cacheHits)} hits)</p></article>
            <article><h3>{usd(report.totals.downshiftSavingsUsd)}</h3><p>saved by downshift ({int(report.totals.downshifts)} requests)</p></article>
            <article><h3>{int(report.totals.promptTokens + report.totals.completionTokens)}</h3><p>tokens ({int(report.totals.promptTokens)} in, {int(report.totals.completionTokens)} out)</p></article>
          </div>
          {report.rows.length === 0 ? (
            <p>No recorded spend in this range.</p>
          ) : (
            <ChartView
              id="spend-chart"
              kind="bar"
              title={`Spend and savings by ${report.groupBy}, ${report.from.slice(0, 10)} to ${report.to.slice(0, 10)} (${report.timeZone})`}
              yLabel="USD"
              labels={report.rows.map((r) => r.key)}
              series={[
                { label: 'Cost', values: report.rows.map((r) => r.costUsd), color: '#1e88e5' },
                { label: 'Cache savings', values: report.rows.map((r) => r.cacheSavingsUsd), color: '#43a047' },
                { label: 'Downshift savings', values: report.rows.map((r) => r.downshiftSavingsUsd), color: '#fb8c00' },
              ]}
            />
          )}
          <div class="overflow-auto">
            <table class="striped" data-testid="spend-table">
              <thead>
                <tr>
                  <th>{report.groupBy}</th><th class="num">Cost</th><th class="num">Requests</th><th class="num">Tokens in</th><th class="num">Tokens out</th>
                  <th class="num">Cache hits</th><th class="num">Cache savings</th><th class="num">Downshifts</th><th class="num">Downshift savings</th>
                </tr>
              </thead>
              <tbody>
                {report.rows.map((r) => (
                  <tr key={r.key}>
                    <td>{r.key}</td><td class="num">{usd(r.costUsd)}</td><td class="num">{int(r.requests)}</td><td class="num">{int(r.promptTokens)}</td>
                    <td class="num">{int(r.completionTokens)}</td><td class="num">{int(r.cacheHits)}</td><td class="num">{usd(r.cacheSavingsUsd)}</td>
                    <td class="num">{int(r.downshifts)}</td><td class="num">{usd(r.downshiftSavingsUsd)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
