/**
 * The approvals the viewer may decide (GET /api/v1/approvals/inbox), each payload already masked
 * by the controller under the viewer's policy; decided with the existing decision route, bound to
 * the payload hash the viewer saw.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, describe } from '../api.js';
import { dateTime } from '../format.js';

interface InboxItem {
  id: string;
  sessionId?: string | null;
  stepId: string;
  requester: string;
  approver: string;
  state: string;
  deadline?: string | null;
  createdAt: string;
  payloadHash: string;
  payload: unknown;
  /** What the Privacy Guard masked in the payload for this viewer. */
  redactions?: Array<{ class: string; count: number }>;
}

/** The masked payload, indented when it is JSON (the controller sends masked JSON as text). */
function pretty(payload: unknown): string {
  if (typeof payload !== 'string') return JSON.stringify(payload, null, 2);
  try {
    return JSON.stringify(JSON.parse(payload), null, 2);
  } catch {
    return payload;
  }
}

export function ApprovalsPage() {
  const [items, setItems] = useState<InboxItem[]>();
  const [error, setError] = useState('');
  const [done, setDone] = useState<Record<string, string>>({});
  const load = () =>
    api<{ approvals: InboxItem[] } | InboxItem[]>('/api/v1/approvals/inbox').then(
      (r) => setItems(Array.isArray(r) ? r : r.approvals),
      (err: unknown) => setError(describe(err)),
    );
  useEffect(() => void load(), []);

  const decide = async (item: InboxItem, decision: 'approved' | 'denied') => {
    setError('');
    try {
      const result = await api<{ state: string }>(`/api/v1/approvals/${encodeURIComponent(item.id)}/decision`, { method: 'POST', body: { decision, payloadHash: item.payloadHash } });
      setDone((d) => ({ ...d, [item.id]: result.state }));
    } catch (err) {
      setError(describe(err));
    }
  };

  if (!items && !error) return <p aria-busy="true">Loading…</p>;
  return (
    <section>
      {error && <p class="error" role="alert">{error}</p>}
      {items && items.length === 0 && <p>Nothing is waiting for you.</p>}
      {items?.map((item) => (
        <article key={item.id} data-testid={`approval-${item.id}`}>
          <header>
            <strong>{item.stepId}</strong> from {item.requester} · for {item.approver} · asked {dateTime(item.createdAt)}
            {item.deadline ? ` · decide by ${dateTime(item.deadline)}` : ''}
          </header>
          <pre class="payload">{pretty(item.payload)}</pre>
          {item.redactions && item.redactions.length > 0 && (
            <p><small data-testid="redactions">Masked for you: {item.redactions.map((r) => `${r.class} ×${r.count}`).join(', ')}</small></p>
          )}
          <footer class="toolbar">
            {done[item.id] ? (
              <strong data-testid="decided">{done[item.id]}</strong>
            ) : item.state !== 'requested' ? (
              <span>{item.state}</span>
            ) : (
              <>
                <button onClick={() => void decide(item, 'approved')}>Approve</button>
                <button class="secondary" onClick={() => void decide(item, 'denied')}>Deny</button>
              </>
            )}
            <small>payload sha-256 {item.payloadHash.slice(0, 12)}…</small>
          </footer>
        </article>
      ))}
    </section>
  );
}
