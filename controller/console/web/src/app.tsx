/** The console shell: sign-in, the session (renewed while the tab is open), and hash routing between pages. */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, describe, setCsrf, type ConsoleSession } from './api.js';
import { SignIn } from './pages/sign-in.js';
import { SpendPage } from './pages/spend.js';
import { BudgetsPage } from './pages/budgets.js';
import { RulesPage } from './pages/rules.js';
import { ApprovalsPage } from './pages/approvals.js';
import { AuditPage } from './pages/audit.js';

const PAGES = [
  { hash: '#/spend', title: 'Spend', view: SpendPage },
  { hash: '#/budgets', title: 'Budgets', view: BudgetsPage },
  { hash: '#/rules', title: 'Downshift rules', view: RulesPage },
  { hash: '#/approvals', title: 'Approvals', view: ApprovalsPage },
  { hash: '#/audit', title: 'Audit trail', view: AuditPage },
] as const;

const RENEW_EVERY_MS = 4 * 60_000;

function useHash(): string {
  const [hash, setHash] = useState(location.hash || PAGES[0].hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash || PAGES[0].hash);
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return hash;
}

export function App() {
  const [session, setSession] = useState<ConsoleSession | null | undefined>(undefined);
  const [error, setError] = useState('');
  const hash = useHash();

  const adopt = (s: ConsoleSession | null) => {
    setCsrf(s?.csrf ?? '');
    setSession(s);
  };
  const load = () =>
    api<ConsoleSession>('/api/v1/console/session').then(adopt, (err: unknown) => {
      if (err instanceof ApiError && (err.status === 401 || err.status === 400)) adopt(null);
      else setError(describe(err));
    });

  useEffect(() => {
    void load();
    // Reading the session renews its cookie; when the sign-in has ended, back to the sign-in page.
    const timer = setInterval(() => void load(), RENEW_EVERY_MS);
    return () => clearInterval(timer);
  }, []);

  if (error) return <main class="container"><p class="error">{error}</p></main>;
  if (session === undefined) return <main class="container" aria-busy="true">Loading…</main>;
  if (session === null) return <SignIn onSignedIn={adopt} />;

  const page = PAGES.find((p) => p.hash === hash.split('?')[0]) ?? PAGES[0];
  const View = page.view;
  const signOut = async () => {
    await api('/api/v1/console/session', { method: 'DELETE' }).catch(() => undefined);
    adopt(null);
  };
  return (
    <>
      <nav class="top container">
        <ul>
          <li><strong>Switchboard</strong></li>
          {PAGES.map((p) => (
            <li key={p.hash}>
              <a href={p.hash} aria-current={p === page ? 'page' : undefined}>{p.title}</a>
            </li>
          ))}
        </ul>
        <ul>
          <li>
            <small data-testid="signed-in-as">
              {session.subject} ({session.roles.join(', ')}){session.idp ? ` via ${session.idp}` : ''}
            </small>
          </li>
          <li><button class="secondary outline" onClick={() => void signOut()}>Sign out</button></li>
        </ul>
      </nav>
      <main class="container">
        <h1>{page.title}</h1>
        <View />
      </main>
    </>
  );
}
