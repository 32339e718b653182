/**
 * The owners' console end to end, in headless Chromium (playwright-core driving Debian's
 * chromium) against real controllers on 127.0.0.1:
 *   - sign in with an admin token; the audit trail, chain status and exports;
 *   - spend: a chart's numbers read back and compared with the ledger; budget burn-down;
 *   - downshift rules: edit, schema errors in the browser, simulate, publish, and the enrolled
 *     gateway syncing the new signed bundle;
 *   - sign in through a real OpenID Provider (oidc-provider), then approve a pending request.
 * The screenshots go to docs/console/ (shown in docs/console.md) when
 * SWITCHBOARD_UPDATE_SCREENSHOTS=1, else to a temp dir. Every request the browser makes off
 * 127.0.0.1 is refused and recorded: the console must make none.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import type { FastifyInstance } from 'fastify';
import { createControllerServices, type ControllerServices } from '../../controller/services.js';
import { buildControllerServer } from '../../controller/server.js';
import { importDirectory } from '../../controller/directory/import.js';
import { parseOidcConfig } from '../../controller/auth/oidc/config.js';
import { openGatewayDb } from '../../platform/sqlite.js';
import { AuditSpool } from '../../gateway/audit/spool.js';
import type { AuditEvent } from '../../audit/event.js';
import type { UsageRecord } from '../../models/usage-record.js';
import { sampleDirectoryYaml } from '../controller/harness.js';
import { startTestIdp, TEST_CLIENT_ID, type TestIdp } from '../support/oidc-idp.js';
import { startLinkedSetup, type LinkedSetup } from '../bundles/linked-setup.js';
import { launchChromium, requireBuiltConsole, SCREENSHOTS, type TestBrowser } from './browser.js';

const shot = (page: Page, name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

async function signInWithToken(page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.fill('textarea[name=token]', token);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=signed-in-as]');
}

/** Usage records as a gateway reports them in its audit batches (models/usage-record.ts). */
function usageRecords(): UsageRecord[] {
  const now = Date.now();
  const people = [['ana', 'finance'], ['lead', 'finance'], ['cfo', 'finance']] as const;
  const models = ['anthropic/claude-sonnet-4.5', 'openai/gpt-4.1-mini', 'google/gemini-2.5-flash'];
  const out: UsageRecord[] = [];
  for (let i = 0; i < 24; i++) {
    const [userId, role] = people[i % people.length]!;
    const cacheHit = i % 7 === 0;
    const downshifted = i % 5 === 0 && !cacheHit;
    const costUsd = cacheHit ? 0 : Math.round((0.01 + (i % 4) * 0.0125) * 10_000) / 10_000;
    out.push({
      id: `usage-${i}`,
      ts: now - (i % 3) * 86_400_000 - i * 60_000,
      tenantId: 'acme',
      userId,
      role,
      taskKind: i % 6 === 0 ? 'title' : 'chat',
      route: 'chat',
      modelRequested: models[i % 3]!,
      modelUsed: downshifted ? 'google/gemini-2.5-flash' : models[i % 3]!,
      promptTokens: 1000 + i * 10,
      completionTokens: 200 + i,
      cachedTokens: 0,
      costUsd,
      estimated: false,
      latencyMs: 300,
      status: 200,
      cacheHit,
      ...(downshifted ? { downshiftRule: 'titles-to-economy', downshiftReason: 'task kind title', baselineCostUsd: costUsd * 4 } : {}),
      ...(cacheHit ? { baselineCostUsd: 0.03 } : {}),
    });
  }
  return out;
}

interface SpendReport {
  rows: Array<{ key: string; costUsd: number; cacheSavingsUsd: number; downshiftSavingsUsd: number }>;
  totals: { costUsd: number; requests: number };
}

/** The numbers a console chart drew, read back from the chart (components: chart.tsx). */
async function chartNumbers(page: Page, id: string): Promise<{ labels: string[]; series: Array<{ label: string; values: Array<number | null> }> }> {
  const figure = page.locator(`#${id}`);
  await figure.waitFor();
  return { labels: JSON.parse((await figure.getAttribute('data-labels'))!) as string[], series: JSON.parse((await figure.getAttribute('data-series'))!) as Array<{ label: string; values: Array<number | null> }> };
}

function auditChain(dir: string, n: number): AuditEvent[] {
  const db = openGatewayDb(join(dir, 'gw-audit.db'));
  const spool = new AuditSpool(db);
  const base = Date.now() - 3_600_000;
  for (let i = 1; i <= n; i++) {
    spool.append({
      ts: new Date(base + i * 1000).toISOString(),
      tenantId: 'acme',
      actor: { type: 'user', id: i % 2 ? 'ana' : 'lead', role: 'finance' },
      action: i === 2 ? 'policy.denied' : 'model.call',
      target: 'openai/gpt-4.1-mini',
      result: i === 2 ? 'denied' : 'ok',
      reason: null,
      policyVersion: 'v1',
      redactions: [],
      cost: { tokens: 100 * i, usd: 0.001 * i },
      traceId: `trace-${i}`,
    });
  }
  const events = [...spool.events()];
  db.close();
  return events;
}

before(() => {
  requireBuiltConsole();
  mkdirSync(SCREENSHOTS, { recursive: true });
});

describe('console with an admin token, a controller and an enrolled gateway', () => {
  let s: LinkedSetup;
  let browser: TestBrowser;
  let page: Page;
  let context: BrowserContext;
  let admin: string;
  const work = mkdtempSync(join(tmpdir(), 'sb-console-e2e-'));

  before(async () => {
    s = await startLinkedSetup({ auth: 'enrolment', pollIntervalMs: 100 });
    await s.startGateway();
    admin = (await s.bearer(['admin'], 'owner')).slice('Bearer '.length);
    browser = await launchChromium();
    ({ context, page } = browser);
  });
  after(async () => {
    await browser?.close();
    await s?.close();
    rmSync(work, { recursive: true, force: true });
  });

  const api = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    const res = await fetch(`${s.controllerUrl}${path}`, { ...init, headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });
    const text = await res.text();
    assert.ok(res.ok, `${path}: HTTP ${res.status} ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };

  it('signs in with an admin token', async () => {
    await page.goto(`${s.controllerUrl}/console/`);
    await page.waitForSelector('textarea[name=token]');
    await shot(page, 'sign-in');
    await page.fill('textarea[name=token]', 'not-a-token-at-all-xxxxxxxx');
    await page.click('button[type=submit]');
    assert.match(await page.textContent('[role=alert]') ?? '', /cannot sign in: token is malformed \(HTTP 401\)/);
    await signInWithToken(page, s.controllerUrl, admin);
    assert.equal(await page.textContent('[data-testid=signed-in-as]'), 'owner (admin)');
    // The session is an HttpOnly cookie: script in the page cannot read it.
    assert.equal(await page.evaluate('document.cookie'), '');
    const cookies = await context.cookies(s.controllerUrl);
    const session = cookies.find((c) => c.name === 'sb_console');
    assert.ok(session && session.httpOnly && session.sameSite === 'Strict');
  });

  it('searches the audit trail, shows the chain status, and exports ndjson and CSV', async () => {
    const events = auditChain(work, 6);
    const gatewayToken = (await s.bearer(['finance'], 'gateway:test')).slice('Bearer '.length);
    const ingest = await fetch(`${s.controllerUrl}/api/v1/audit/ingest`, { method: 'POST', headers: { authorization: `Bearer ${gatewayToken}`, 'content-type': 'application/json' }, body: JSON.stringify({ events }) });
    assert.equal(ingest.status, 200, await ingest.text());
    await page.goto(`${s.controllerUrl}/console/#/audit`);
    await page.fill('input[name=actor]', 'ana');
    await page.click('form.filters button[type=submit]');
    // (Playwright's string predicates are evals, which the console's CSP refuses; poll from here.)
    const rows = page.locator('[data-testid=audit-table] tbody tr');
    for (let i = 0; (await rows.count()) !== 3; i++) {
      assert.ok(i < 100, `audit rows: ${await rows.count()}`);
      await page.waitForTimeout(100);
    }
    const actors = await page.$$eval('[data-testid=audit-table] tbody tr td:nth-child(2)', (tds) => tds.map((td) => td.textContent));
    assert.deepEqual(actors, ['ana (finance)', 'ana (finance)', 'ana (finance)']);
    assert.match(await page.textContent('[data-testid=chain-status]') ?? '', /every chain is intact/);
    await shot(page, 'audit');

    for (const [format, count] of [['ndjson', 3], ['csv', 4]] as const) {
      const [download] = await Promise.all([page.waitForEvent('download'), page.click(`[data-testid=export-${format}]`)]);
      const file = join(work, `export.${format}`);
      await download.saveAs(file);
      const lines = readFileSync(file, 'utf8').trim().split('\n');
      assert.equal(lines.length, count, `${format}: ${lines.join(' | ')}`);
      if (format === 'ndjson') assert.deepEqual(lines.map((l) => (JSON.parse(l) as AuditEvent).actor.id), ['ana', 'ana', 'ana']);
      else assert.match(lines[0]!, /^id,/);
    }
  });

  it('spend: the chart draws exactly the ledger\'s numbers, by day and by model', async () => {
    await importDirectory(sampleDirectoryYaml, 'yaml', 'directory.yaml', s.controller()!.services.directory);
    const usage = usageRecords();
    const gatewayToken = (await s.bearer(['finance'], 'gateway:test')).slice('Bearer '.length);
    const ingest = await fetch(`${s.controllerUrl}/api/v1/audit/ingest`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gatewayToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [], usage, gatewayId: 'gw-e2e' }),
    });
    assert.equal(ingest.status, 200, await ingest.clone().text());
    const expectedTotal = usage.reduce((sum, u) => sum + u.costUsd, 0);

    for (const groupBy of ['day', 'model', 'department'] as const) {
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.url().includes('/api/v1/ledger/spend') && r.url().includes(`groupBy=${groupBy}`)),
        groupBy === 'day' ? page.goto(`${s.controllerUrl}/console/#/spend`) : page.selectOption('select[name=groupBy]', groupBy),
      ]);
      // The same question asked of the ledger directly, with an admin bearer token.
      const ledger = await api<SpendReport>(new URL(response.url()).pathname + new URL(response.url()).search);
      assert.ok(Math.abs(ledger.totals.costUsd - expectedTotal) < 1e-6, `ledger total ${ledger.totals.costUsd} = recorded ${expectedTotal}`);
      assert.equal(ledger.totals.requests, usage.length);
      await page.locator(`#spend-chart[data-labels='${JSON.stringify(ledger.rows.map((r) => r.key))}']`).waitFor();
      const drawn = await chartNumbers(page, 'spend-chart');
      assert.deepEqual(drawn.labels, ledger.rows.map((r) => r.key));
      assert.deepEqual(drawn.series.find((d) => d.label === 'Cost')!.values, ledger.rows.map((r) => r.costUsd));
      assert.deepEqual(drawn.series.find((d) => d.label === 'Cache savings')!.values, ledger.rows.map((r) => r.cacheSavingsUsd));
      assert.deepEqual(drawn.series.find((d) => d.label === 'Downshift savings')!.values, ledger.rows.map((r) => r.downshiftSavingsUsd));
      assert.equal(await page.locator('[data-testid=spend-table] tbody tr').count(), ledger.rows.length);
      if (groupBy === 'day') await shot(page, 'spend');
      if (groupBy === 'model') assert.equal(ledger.rows.length, 3);
    }
  });

  it('budgets: burn-down from the limit to what is left now, and the projection to the end of the window', async () => {
    await api('/api/v1/ledger/budgets/tenant/acme/month', { method: 'PUT', body: JSON.stringify({ limitUsd: 5 }) });
    // The projection moves with the clock, so compare with the answer the page itself got.
    const [response] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/v1/ledger/budgets')), page.goto(`${s.controllerUrl}/console/#/budgets`)]);
    const { budgets } = (await response.json()) as { budgets: Array<{ scope: string; id: string; window: string; limitUsd: number; spentUsd: number; projectedUsd: number; windowStart: string; windowEnd: string }> };
    const index = budgets.findIndex((b) => b.scope === 'tenant' && b.id === 'acme' && b.window === 'month');
    assert.ok(index >= 0, JSON.stringify(budgets));
    const b = budgets[index]!;
    const ledger = await api<{ budgets: typeof budgets }>('/api/v1/ledger/budgets');
    assert.equal(ledger.budgets[index]!.spentUsd, b.spentUsd, 'the page read the ledger');
    assert.equal(ledger.budgets[index]!.limitUsd, 5);
    const drawn = await chartNumbers(page, `burn-down-${index}`);
    const round = (n: number) => Math.round(n * 10_000) / 10_000;
    const points = (values: Array<number | null>) => values.flatMap((v, i) => (v === null ? [] : [[i, v] as const]));
    // A month window: one tick per day, from the window's start to its end.
    const days = Math.round((Date.parse(b.windowEnd) - Date.parse(b.windowStart)) / 86_400_000);
    assert.equal(drawn.labels.length, days + 1);
    const remaining = points(drawn.series.find((d) => d.label === 'Remaining')!.values);
    const projected = points(drawn.series.find((d) => d.label === 'Projected')!.values);
    assert.deepEqual(remaining[0], [0, b.limitUsd], 'starts at the limit');
    assert.equal(remaining.length, 2);
    assert.equal(remaining[1]![1], round(b.limitUsd - b.spentUsd), 'what is left now');
    const nowIndex = remaining[1]![0];
    assert.ok(Math.abs(nowIndex - (Date.now() - Date.parse(b.windowStart)) / 86_400_000) <= 1, '"now" sits at today');
    assert.deepEqual(projected, [[nowIndex, round(b.limitUsd - b.spentUsd)], [days, round(b.limitUsd - b.projectedUsd)]], 'projection from now to the window end');
    assert.ok(b.spentUsd > 0);
    await shot(page, 'budgets');
  });

  it('rules: edit, see schema errors in the browser, simulate, publish, and the gateway syncs the new bundle', async () => {
    await page.goto(`${s.controllerUrl}/console/#/rules`);
    await page.selectOption('select[name=role]', 'finance');
    await page.waitForSelector('[data-testid=rules-version][data-role=finance]');
    const original = JSON.parse(await page.inputValue('textarea[name=rules]')) as { version: 1; rules: Array<Record<string, unknown>>; tiers?: Record<string, string> };
    // A typo the schema refuses, caught in the browser before anything is sent.
    await page.fill('textarea[name=rules]', JSON.stringify({ ...original, rules: [{ id: 'bad rule id', match: {}, action: { tier: 'cheapest' } }] }, null, 2));
    const problems = await page.textContent('[data-testid=schema-problems]');
    assert.match(problems ?? '', /\/rules\/0/);
    assert.ok(await page.isDisabled('button:has-text("Simulate")'));

    const edited = {
      ...original,
      tiers: { ...original.tiers, economy: 'google/gemini-2.5-flash' },
      rules: [{ id: 'console-e2e-sonnet-to-economy', description: 'Added in the console test', match: { models: ['anthropic/claude-sonnet-*'] }, action: { tier: 'economy' } }, ...original.rules],
    };
    await page.fill('textarea[name=rules]', JSON.stringify(edited, null, 2));
    await page.waitForSelector('[data-testid=schema-ok]');
    assert.ok(await page.isDisabled('button:has-text("Publish")'), 'publishing needs a simulation first');
    const [simulateResponse] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/v1/rules/simulate')), page.click('button:has-text("Simulate")')]);
    assert.equal(simulateResponse.status(), 200, await simulateResponse.text());
    await page.waitForSelector('[data-testid=simulation]');
    const report = (await simulateResponse.json()) as { savingsUsd: number; requests: number };
    const direct = await api<{ savingsUsd: number; requests: number }>('/api/v1/rules/simulate', { method: 'POST', body: simulateResponse.request().postData()! });
    assert.deepEqual(direct, report, 'the console shows the server\'s replay');
    assert.ok(report.requests > 0);
    assert.ok(report.savingsUsd > 0, 'sending Sonnet requests to the economy tier saves money on the recorded usage');
    await shot(page, 'rules');

    const before = s.gateway()!.services.controllerLink.bundles!.current()!.version;
    const [publishResponse] = await Promise.all([page.waitForResponse((r) => r.url().endsWith('/api/v1/profiles/finance/downshift-rules') && r.request().method() === 'PUT'), page.click('button:has-text("Publish")')]);
    assert.equal(publishResponse.status(), 200, await publishResponse.text());
    await page.waitForSelector('[data-testid=published]');
    const published = (await publishResponse.json()) as { bundleVersion: string | number };
    assert.notEqual(String(published.bundleVersion), String(before));
    // The enrolled gateway polls its bundle (ETag sync) and switches to the new signed version.
    const deadline = Date.now() + 15_000;
    while (String(s.gateway()!.services.controllerLink.bundles!.current()!.version) !== String(published.bundleVersion)) {
      assert.ok(Date.now() < deadline, `gateway still on bundle ${s.gateway()!.services.controllerLink.bundles!.current()!.version}, published ${published.bundleVersion}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(JSON.stringify(s.gateway()!.services.controllerLink.bundles!.current()).includes('console-e2e-sonnet-to-economy'), 'the new rule is in the bundle the gateway holds');
    // The stored rules are what the console published.
    const stored = await api<{ rules: { rules: Array<{ id: string }> } }>('/api/v1/profiles/finance/downshift-rules');
    assert.equal(stored.rules.rules[0]!.id, 'console-e2e-sonnet-to-economy');
  });

  it('the console fetched nothing from outside 127.0.0.1 and broke no CSP rule', () => {
    assert.deepEqual(browser.offHost, []);
    assert.deepEqual(browser.cspViolations, []);
  });
});

describe('console sign-in through a real OpenID Provider, then the approvals inbox', () => {
  let idp: TestIdp;
  let services: ControllerServices;
  let app: FastifyInstance;
  let base: string;
  let dir: string;
  let browser: TestBrowser;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    idp = await startTestIdp({ 'ana-idp': { email: 'ana@acme.test' }, 'stranger-idp': { email: 'nobody@elsewhere.test' } });
    dir = mkdtempSync(join(tmpdir(), 'sb-console-oidc-'));
    services = await createControllerServices({
      dataDir: dir,
      telemetry: { traces: 'off' },
      mesh: { sweepMs: 3_600_000 },
      oidc: parseOidcConfig({
        issuers: [{ name: 'acme-sso', issuer: idp.issuer, clientId: TEST_CLIENT_ID, scopes: ['openid', 'email'], allowInsecure: true }],
        tenant: 'acme',
      }),
    });
    await importDirectory(sampleDirectoryYaml.replace('{ id: ana, kind: person, name: Ana Accountant,', '{ id: ana, kind: person, name: Ana Accountant, email: ana@acme.test,'), 'yaml', 'directory.yaml', services.directory);
    app = await buildControllerServer({ services, logger: false });
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    browser = await launchChromium();
    ({ context, page } = browser);
  });
  after(async () => {
    await browser?.close();
    await app?.close();
    await services?.close();
    await idp?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Plays the person at the IdP's own pages: log in as `account`, consent. */
  async function signInAtIdp(account: string): Promise<void> {
    await page.goto(`${base}/console/`);
    await page.click('[data-testid=oidc-acme-sso]');
    await page.waitForURL((u) => u.origin === idp.issuer);
    await page.fill('input[name=login]', account);
    await page.fill('input[name=password]', 'any');
    await page.click('button[type=submit]');
    await page.waitForSelector('input[name=prompt][value=consent]', { state: 'attached' });
    await page.click('button[type=submit]');
    await page.waitForURL((u) => u.origin === base);
  }

  it('signs in with the company IdP: authorization code + PKCE, back to the console as the directory person', async () => {
    const [request] = await Promise.all([
      page.waitForRequest((r) => r.url().startsWith(`${idp.issuer}/auth`)),
      signInAtIdp('ana-idp'),
    ]);
    const params = new URL(request.url()).searchParams;
    assert.equal(params.get('code_challenge_method'), 'S256');
    assert.ok(params.get('code_challenge') && params.get('state') && params.get('nonce'));
    assert.equal(params.get('redirect_uri'), `${base}/console/auth/oidc/callback`);
    await page.waitForSelector('[data-testid=signed-in-as]');
    assert.equal(await page.textContent('[data-testid=signed-in-as]'), 'ana (finance) via acme-sso');
    const session = (await context.cookies(base)).find((c) => c.name === 'sb_console');
    assert.ok(session?.httpOnly && session.sameSite === 'Strict');
    assert.ok(!(await context.cookies(base)).some((c) => c.name === 'sb_console_oidc'), 'the flow cookie is spent');
  });

  it('approves a pending request from the inbox, with the payload masked for the viewer', async () => {
    const mia = (await services.tokens.mintAccessToken({ subject: 'mia', roles: ['marketing'], authMethod: 'test' })).token;
    const created = await fetch(`${base}/api/v1/approvals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${mia}`, 'content-type': 'application/json' },
      body: JSON.stringify({ stepId: 'campaign-budget', approverRole: 'finance', payload: { campaign: 'Q3 spring', budgetUsd: 12000, contact: 'maria.schmidt@posteo.de' }, deadlineSeconds: 600 }),
    });
    assert.equal(created.status, 201, await created.clone().text());
    const approval = (await created.json()) as { id: string; approver: string; payloadHash: string };
    assert.equal(approval.approver, 'ana');

    await page.goto(`${base}/console/#/approvals`);
    const card = page.locator(`[data-testid=approval-${approval.id}]`);
    await card.waitFor();
    const payload = (await card.locator('pre.payload').textContent()) ?? '';
    assert.match(payload, /12000/);
    assert.ok(!payload.includes('maria.schmidt@posteo.de'), `the e-mail address is masked for the viewer: ${payload}`);
    await shot(page, 'approvals');
    await card.locator('button', { hasText: 'Approve' }).click();
    await card.locator('[data-testid=decided]').waitFor();
    assert.equal(await card.locator('[data-testid=decided]').textContent(), 'approved');
    const status = await fetch(`${base}/api/v1/approvals/${approval.id}`, { headers: { authorization: `Bearer ${mia}` } });
    assert.equal(((await status.json()) as { state: string }).state, 'approved');
  });

  it('a person the directory does not list is refused with a clear page', async () => {
    const other = await launchChromium();
    const p = other.page;
    await p.goto(`${base}/console/`);
    await p.click('[data-testid=oidc-acme-sso]');
    await p.fill('input[name=login]', 'stranger-idp');
    await p.fill('input[name=password]', 'any');
    await p.click('button[type=submit]');
    await p.waitForSelector('input[name=prompt][value=consent]', { state: 'attached' });
    await p.click('button[type=submit]');
    await p.waitForURL((u) => u.origin === base);
    assert.match(await p.textContent('body') ?? '', /not in the organisation directory/);
    assert.ok(!(await other.context.cookies(base)).some((c) => c.name === 'sb_console'));
    await other.close();
  });

  it('the console fetched nothing from outside 127.0.0.1 (the test IdP\'s own pages may)', () => {
    assert.deepEqual(browser.offHost.filter((r) => new URL(r.from).origin === base), []);
    assert.deepEqual(browser.cspViolations.filter((v) => new URL(v.page).origin === base), []);
  });
});
