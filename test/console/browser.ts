/**
 * Headless Chromium for the console's end-to-end tests: playwright-core driving Debian's
 * chromium (browser downloads cannot be fetched here; .ci/run installs the package when it is
 * missing). A missing browser or an unbuilt console fails the test with the fix, never skips it.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { consoleAssetsDir } from '../../controller/console/routes.js';

export const CHROMIUM = '/usr/bin/chromium';

export function requireBuiltConsole(): string {
  const dir = consoleAssetsDir();
  if (!dir) throw new Error('the web console is not built (no dist/controller/console/public/index.html): run `npm run build` first (`npm test` does)');
  return dir;
}

export interface TestBrowser {
  context: BrowserContext;
  page: Page;
  /** Requests the browser tried to make off 127.0.0.1 (all refused), with the page that made them. */
  offHost: Array<{ url: string; from: string }>;
  /** Content-Security-Policy violations the pages reported (the console must cause none). */
  cspViolations: Array<{ text: string; page: string }>;
  close(): Promise<void>;
}

/**
 * Chromium with a fresh profile (--user-data-dir) that refuses, and records, every request not to
 * 127.0.0.1: tests never touch the internet, and the console must not try to.
 */
export async function launchChromium(): Promise<TestBrowser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`Chromium is missing at ${CHROMIUM}: install it with \`apt-get install -y chromium\` (.ci/run does this). The console e2e tests need it.`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'sb-chromium-'));
  // A persistent context is how playwright takes --user-data-dir; the directory is new and removed on close.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    acceptDownloads: true,
    timeout: 60_000,
  });
  const offHost: Array<{ url: string; from: string }> = [];
  await context.route(
    (url) => url.hostname !== '127.0.0.1',
    async (route) => {
      offHost.push({ url: route.request().url(), from: route.request().frame().url() });
      await route.abort('blockedbyclient');
    },
  );
  context.setDefaultTimeout(15_000);
  const cspViolations: Array<{ text: string; page: string }> = [];
  const watch = (p: Page) =>
    p.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) cspViolations.push({ text: message.text(), page: p.url() });
    });
  context.on('page', watch);
  context.pages().forEach(watch);
  const page = context.pages()[0] ?? (await context.newPage());
  return {
    context,
    page,
    offHost,
    cspViolations,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Where the tests' screenshots go (shown in docs/console.md). */
/**
 * Where the e2e tests write their screenshots: docs/console/ (shown in docs/console.md) when
 * SWITCHBOARD_UPDATE_SCREENSHOTS=1, else a temp dir, so a test run leaves the checkout unchanged.
 */
export const SCREENSHOTS = process.env.SWITCHBOARD_UPDATE_SCREENSHOTS === '1'
  ? new URL('../../docs/console/', import.meta.url).pathname
  : join(tmpdir(), 'switchboard-console-screenshots');
