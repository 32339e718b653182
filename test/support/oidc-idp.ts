/**
 * A real OpenID Provider (oidc-provider) on 127.0.0.1 for sign-in tests, with a native public
 * client for `switchboard login` (PKCE + loopback redirect, device flow) and dev interactions
 * driven headlessly: login as any account id, then consent.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import Provider from 'oidc-provider';

export const TEST_CLIENT_ID = 'switchboard-cli';

export interface TestAccount {
  email: string;
  groups?: string[];
}

export interface TestIdp {
  issuer: string;
  /** Signs an ID token with the IdP's own key (for expired, wrong-audience, skewed ... tokens). */
  signIdToken(claims: JWTPayload, opts?: { iat?: number; exp?: number; kid?: string }): Promise<string>;
  /** Plays the person in a browser: follows the authorisation URL, logs in, consents, lands on the loopback callback. */
  browserSignIn(authorizationUrl: string, accountId: string): Promise<void>;
  /** Plays the person on another device: enters the user code, logs in, consents. */
  approveDevice(verificationUri: string, userCode: string, accountId: string): Promise<void>;
  close(): Promise<void>;
}

class CookieJar {
  private readonly cookies = new Map<string, string>();
  store(res: Response): void {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(c)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export async function startTestIdp(accounts: Record<string, TestAccount>): Promise<TestIdp> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = 'test-idp-key-1';
  const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: TEST_CLIENT_ID,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        // The CLI's loopback redirect and the web console's (any port on 127.0.0.1, RFC 8252).
        redirect_uris: ['http://127.0.0.1/callback', 'http://127.0.0.1/console/auth/oidc/callback'],
        grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
      },
    ],
    jwks: { keys: [privateJwk] },
    cookies: { keys: ['test-cookie-key-0123456789abcdef'] },
    features: { devInteractions: { enabled: true }, deviceFlow: { enabled: true } },
    pkce: { required: () => true },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], groups: ['groups'] },
    conformIdTokenClaims: false,
    findAccount: (_ctx: unknown, sub: string) => {
      const account = accounts[sub];
      if (!account) return undefined;
      return { accountId: sub, claims: async () => ({ sub, email: account.email, email_verified: true, groups: account.groups ?? [] }) };
    },
  });
  server.on('request', provider.callback());

  /** Follows redirects inside the IdP, submitting login and consent forms, until `stopAt` matches. */
  async function walk(start: string, accountId: string, jar: CookieJar, stopAt: (url: URL) => boolean, first?: RequestInit): Promise<URL | undefined> {
    let url = new URL(start);
    let init: RequestInit | undefined = first;
    for (let hop = 0; hop < 20; hop++) {
      if (stopAt(url)) return url;
      const res = await fetch(url, { ...init, redirect: 'manual', headers: { ...(init?.headers as Record<string, string>), cookie: jar.header() } });
      jar.store(res);
      init = undefined;
      const location = res.headers.get('location');
      if (location) {
        await res.arrayBuffer();
        url = new URL(location, url);
        continue;
      }
      const html = await res.text();
      if (res.status >= 400) throw new Error(`IdP answered HTTP ${res.status} at ${url.pathname}: ${html.slice(0, 300)}`);
      const interaction = /^\/interaction\/([^/]+)$/.exec(url.pathname);
      if (interaction) {
        const prompt = /name="login"/.test(html) ? 'login' : 'consent';
        const body = new URLSearchParams(prompt === 'login' ? { prompt, login: accountId, password: 'x' } : { prompt });
        init = { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() };
        continue;
      }
      return url; // a final page (device flow success)
    }
    throw new Error('too many redirects at the test IdP');
  }

  return {
    issuer,
    async signIdToken(claims, opts = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ ...claims })
        .setProtectedHeader({ alg: 'RS256', kid: opts.kid ?? kid, typ: 'JWT' })
        .setIssuedAt(opts.iat ?? now)
        .setExpirationTime(opts.exp ?? now + 600)
        .sign(privateKey);
    },
    async browserSignIn(authorizationUrl, accountId) {
      const jar = new CookieJar();
      const callback = await walk(authorizationUrl, accountId, jar, (u) => u.origin !== issuer);
      if (!callback) throw new Error('sign-in did not reach the callback');
      // The browser lands on the loopback redirect: that is what completes `switchboard login`.
      await (await fetch(callback)).arrayBuffer();
    },
    async approveDevice(verificationUri, userCode, accountId) {
      const jar = new CookieJar();
      const page = await fetch(verificationUri, { headers: { cookie: jar.header() } });
      jar.store(page);
      const html = await page.text();
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
      if (!xsrf) throw new Error('device page has no xsrf field');
      const body = new URLSearchParams({ xsrf, user_code: userCode, confirm: 'yes' }).toString();
      await walk(verificationUri, accountId, jar, () => false, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
