/** Sign in with the company IdP (when the controller trusts one) or paste an admin token. */
import { useEffect, useState } from 'preact/hooks';
import { api, describe, type ConsoleSession } from '../api.js';

export function SignIn(props: { onSignedIn(session: ConsoleSession): void }) {
  const [issuers, setIssuers] = useState<string[]>([]);
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    api<{ oidcIssuers: string[] }>('/api/v1/console/config').then((c) => setIssuers(c.oidcIssuers), (err: unknown) => setError(describe(err)));
  }, []);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      props.onSignedIn(await api<ConsoleSession>('/api/v1/console/session', { method: 'POST', body: { token: token.trim() } }));
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="container">
      <article>
        <header><h1>Switchboard console</h1></header>
        {issuers.map((name) => (
          <p key={name}>
            <a role="button" href={`/console/auth/oidc/start?issuer=${encodeURIComponent(name)}`} data-testid={`oidc-${name}`}>
              Sign in with {name}
            </a>
          </p>
        ))}
        <form onSubmit={(e) => void submit(e)}>
          <label>
            {issuers.length ? 'Or paste an admin token' : 'Admin token'}
            <textarea name="token" rows={3} value={token} onInput={(e) => setToken(e.currentTarget.value)} placeholder="switchboard controller admin-token" required />
          </label>
          <button type="submit" aria-busy={busy} disabled={busy || token.trim().length === 0}>Sign in</button>
        </form>
        {error && <p class="error" role="alert">{error}</p>}
      </article>
    </main>
  );
}
