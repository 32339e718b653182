/**
 * Audit trail search (GET /api/v1/audit/events, by cursor), the chain verification status (the
 * controller checks every chain's links as events arrive and records gaps, forks, broken links and
 * tampering as alerts: GET /api/v1/audit/alerts), and export of the matching events.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, describe, query } from '../api.js';
import { dateTime, usd } from '../format.js';

interface AuditEvent {
  id: string;
  ts: string;
  chainId: string;
  seq: number;
  actor: { type: string; id: string; role: string };
  action: string;
  target: string;
  result: string;
  reason: string;
  cost: { tokens: number; usd: number };
}
interface Alert {
  id: string;
  chainId: string;
  kind: string;
  seq: number;
  eventId: string;
  detail: string;
  createdAt: string;
}

interface Filters {
  actor: string;
  action: string;
  from: string;
  to: string;
}
const toParams = (f: Filters) => ({
  actor: f.actor.trim(),
  action: f.action.trim(),
  from: f.from ? new Date(f.from).toISOString() : undefined,
  to: f.to ? new Date(f.to).toISOString() : undefined,
});

function ChainStatus() {
  const [alerts, setAlerts] = useState<Alert[]>();
  const [error, setError] = useState('');
  useEffect(() => {
    api<{ alerts: Alert[] }>('/api/v1/audit/alerts').then((r) => setAlerts(r.alerts), (err: unknown) =>
      setError(err instanceof ApiError && err.status === 403 ? 'Chain alerts are visible to admins only.' : describe(err)),
    );
  }, []);
  if (error) return <p data-testid="chain-status">{error}</p>;
  if (!alerts) return <p aria-busy="true">Checking chains…</p>;
  if (alerts.length === 0) return <p class="ok" data-testid="chain-status">Chain verification: every chain is intact (no gaps, forks, broken links or tampered events).</p>;
  return (
    <div data-testid="chain-status">
      <p class="error">Chain verification: {alerts.length} alert{alerts.length === 1 ? '' : 's'}.</p>
      <table class="striped">
        <thead><tr><th>When</th><th>Chain</th><th>Kind</th><th class="num">Seq</th><th>Detail</th></tr></thead>
        <tbody>{alerts.map((a) => <tr key={a.id}><td>{dateTime(a.createdAt)}</td><td>{a.chainId}</td><td>{a.kind}</td><td class="num">{a.seq}</td><td>{a.detail}</td></tr>)}</tbody>
      </table>
    </div>
  );
}

export function AuditPage() {
  const [filters, setFilters] = useState<Filters>({ actor: '', action: '', from: '', to: '' });
  const [applied, setApplied] = useState<Filters>(filters);
  const [events, setEvents] = useState<AuditEvent[]>([]);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState('');

  const fetchPage = (f: Filters, cursor?: string) =>
    api<{ events: AuditEvent[]; nextCursor: string | null }>(`/api/v1/audit/events${query({ ...toParams(f), limit: 50, cursor })}`).then((r) => {
      setEvents((prev) => (cursor ? [...prev, ...r.events] : r.events));
      setNext(r.nextCursor);
      setError('');
    }, (err: unknown) => setError(describe(err)));
  useEffect(() => void fetchPage(applied), [applied]);

  const set = (k: keyof Filters) => (e: Event) => setFilters({ ...filters, [k]: (e.currentTarget as HTMLInputElement).value });
  const exportHref = (format: 'ndjson' | 'csv') => `/api/v1/audit/export${query({ ...toParams(applied), format })}`;
  return (
    <section>
      <ChainStatus />
      <form class="filters" onSubmit={(e) => { e.preventDefault(); setApplied(filters); }}>
        <label>Actor <input name="actor" value={filters.actor} onInput={set('actor')} placeholder="person, agent or gateway id" /></label>
        <label>Action <input name="action" value={filters.action} onInput={set('action')} placeholder="model.call" /></label>
        <label>From <input type="datetime-local" name="from" value={filters.from} onInput={set('from')} /></label>
        <label>To <input type="datetime-local" name="to" value={filters.to} onInput={set('to')} /></label>
        <button type="submit">Search</button>
      </form>
      <p class="toolbar">
        Export these events: <a href={exportHref('ndjson')} download data-testid="export-ndjson">ndjson</a> · <a href={exportHref('csv')} download data-testid="export-csv">CSV</a>
      </p>
      {error && <p class="error" role="alert">{error}</p>}
      <div class="overflow-auto">
        <table class="striped" data-testid="audit-table">
          <thead><tr><th>Time</th><th>Actor</th><th>Action</th><th>Target</th><th>Result</th><th class="num">Cost</th><th>Chain · seq</th></tr></thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.id}>
                <td>{dateTime(e.ts)}</td><td>{e.actor.id} ({e.actor.role})</td><td>{e.action}</td><td>{e.target}</td>
                <td title={e.reason}>{e.result}</td><td class="num">{usd(e.cost.usd)}</td><td>{e.chainId} · {e.seq}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {events.length === 0 && !error && <p>No events match.</p>}
      {next && <button class="secondary" onClick={() => void fetchPage(applied, next)}>More</button>}
    </section>
  );
}
