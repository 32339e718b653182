/**
 * Downshift rules of a role: view, edit (checked in the browser against
 * policies/schema/downshift.schema.json, and again by the server), replay against recorded usage
 * (POST /api/v1/rules/simulate), then publish as a new signed bundle version
 * (PUT /api/v1/profiles/:role/downshift-rules). Publishing needs a replay of exactly the text
 * being published.
 */
import { useEffect, useMemo, useState } from 'preact/hooks';
import validate from 'virtual:downshift-validator';
import { api, describe } from '../api.js';
import { int, lastDays, startOfDay, usd } from '../format.js';

interface RulesDoc {
  role: string;
  version: number | string;
  rules: unknown;
  bundleVersion: number | string;
}
interface SimulationReport {
  requests: number;
  baselineCostUsd: number;
  simulatedCostUsd: number;
  savingsUsd: number;
  downshifted: number;
  byRule: Array<{ rule: string; requests: number; savingsUsd: number }>;
}

/** Parse and schema-check the editor's text: the rules, or the problems to show. */
function check(text: string): { rules?: unknown; problems: string[] } {
  let rules: unknown;
  try {
    rules = JSON.parse(text);
  } catch (err) {
    return { problems: [`not valid JSON: ${(err as Error).message}`] };
  }
  if (validate(rules)) return { rules, problems: [] };
  return { problems: (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params['additionalProperty'])})` : ''}`) };
}

export function RulesPage() {
  const [roles, setRoles] = useState<string[]>([]);
  const [role, setRole] = useState('');
  const [loaded, setLoaded] = useState<RulesDoc>();
  const [text, setText] = useState('');
  const [simulated, setSimulated] = useState<{ text: string; report: SimulationReport }>();
  const [published, setPublished] = useState<{ version: number | string; bundleVersion: number | string }>();
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const range = lastDays(30);

  useEffect(() => {
    api<{ roles: string[] }>('/api/v1/profiles').then((r) => {
      setRoles(r.roles);
      setRole((current) => current || r.roles[0] || '');
    }, (err: unknown) => setError(describe(err)));
  }, []);

  useEffect(() => {
    if (!role) return undefined;
    // A slower answer for a role no longer selected must not overwrite the editor.
    let current = true;
    setError('');
    setSimulated(undefined);
    api<RulesDoc>(`/api/v1/profiles/${encodeURIComponent(role)}/downshift-rules`).then((doc) => {
      if (!current) return;
      setLoaded(doc);
      setText(JSON.stringify(doc.rules, null, 2));
    }, (err: unknown) => {
      if (!current) return;
      setLoaded(undefined);
      setError(describe(err));
    });
    return () => {
      current = false;
    };
  }, [role]);

  const checked = useMemo(() => check(text), [text]);
  const simulatedCurrent = simulated?.text === text;

  const run = async (work: () => Promise<void>) => {
    setBusy(true);
    setError('');
    try {
      await work();
    } catch (err) {
      setError(describe(err));
    } finally {
      setBusy(false);
    }
  };
  const simulate = () =>
    run(async () => {
      const report = await api<SimulationReport>('/api/v1/rules/simulate', { method: 'POST', body: { rules: checked.rules, role, from: startOfDay(range.from), to: startOfDay(range.to) } });
      setSimulated({ text, report });
    });
  const publish = () =>
    run(async () => {
      const result = await api<{ role: string; version: number | string; bundleVersion: number | string }>(
        `/api/v1/profiles/${encodeURIComponent(role)}/downshift-rules`,
        { method: 'PUT', body: { rules: checked.rules, ...(loaded ? { expectedVersion: loaded.version } : {}) } },
      );
      setPublished({ version: result.version, bundleVersion: result.bundleVersion });
      setLoaded((doc) => (doc ? { ...doc, version: result.version, bundleVersion: result.bundleVersion, rules: checked.rules } : doc));
    });

  return (
    <section>
      <div class="toolbar">
        <label>
          Role{' '}
          <select name="role" value={role} onChange={(e) => { setPublished(undefined); setRole(e.currentTarget.value); }}>
            {roles.map((r) => <option key={r} value={r}>{r}</option>)}
          </select>
        </label>
        {loaded && <small data-testid="rules-version" data-role={loaded.role}>rules version {String(loaded.version)} · bundle {String(loaded.bundleVersion)}</small>}
      </div>
      {error && <p class="error" role="alert" data-testid="rules-error">{error}</p>}
      <label>
        Rules (JSON; the same document as a downshift rules YAML file)
        <textarea class="rules" name="rules" spellcheck={false} value={text} onInput={(e) => setText(e.currentTarget.value)} aria-invalid={checked.problems.length > 0 ? 'true' : 'false'} />
      </label>
      {checked.problems.length > 0 ? (
        <ul class="error" data-testid="schema-problems">{checked.problems.map((p) => <li key={p}>{p}</li>)}</ul>
      ) : (
        <p class="ok" data-testid="schema-ok">Valid against the downshift rules schema.</p>
      )}
      <div class="toolbar">
        <button onClick={() => void simulate()} disabled={busy || checked.problems.length > 0} aria-busy={busy}>Simulate on the last 30 days</button>
        <button class="contrast" onClick={() => void publish()} disabled={busy || !simulatedCurrent || checked.problems.length > 0} title={simulatedCurrent ? '' : 'simulate these rules first'}>
          Publish to {role || 'role'}
        </button>
        {published && <span class="ok" data-testid="published">Published rules version {String(published.version)} in bundle {String(published.bundleVersion)}.</span>}
      </div>
      {simulated && (
        <article data-testid="simulation">
          <header>What-if replay of {int(simulated.report.requests)} recorded requests {simulatedCurrent ? '' : '(the rules changed since; simulate again)'}</header>
          <div class="cards">
            <article><h3>{usd(simulated.report.baselineCostUsd)}</h3><p>recorded cost</p></article>
            <article><h3>{usd(simulated.report.simulatedCostUsd)}</h3><p>cost with these rules</p></article>
            <article><h3 data-testid="simulated-savings">{usd(simulated.report.savingsUsd)}</h3><p>saved</p></article>
            <article><h3>{int(simulated.report.downshifted)}</h3><p>requests downshifted</p></article>
          </div>
          <table class="striped">
            <thead><tr><th>Rule</th><th class="num">Requests</th><th class="num">Savings</th></tr></thead>
            <tbody>
              {simulated.report.byRule.map((r) => (
                <tr key={r.rule}><td>{r.rule}</td><td class="num">{int(r.requests)}</td><td class="num">{usd(r.savingsUsd)}</td></tr>
              ))}
            </tbody>
          </table>
        </article>
      )}
    </section>
  );
}
