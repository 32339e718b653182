/**
 * The console's OIDC sign-in, run by the controller itself (openid-client): the browser goes to
 * the company IdP with an authorization-code + PKCE (S256) request carrying state and nonce, and
 * comes back to /console/auth/oidc/callback. The ID token is then traded exactly as
 * `switchboard login` trades it (OidcSignIn.signIn: same checks, same directory lookup, same
 * sign-in session), and the console token carries that sign-in's `sid`, so a revoked or expired
 * sign-in ends the console session too.
 */
import * as client from 'openid-client';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OidcIssuerConfig } from '../auth/oidc/config.js';

export const FLOW_COOKIE = 'sb_console_oidc';
export const CALLBACK_PATH = '/console/auth/oidc/callback';
const FLOW_COOKIE_PATH = '/console/auth/oidc';
const FLOW_TTL_S = 600;

interface FlowState {
  issuer: string;
  verifier: string;
  state: string;
  nonce: string;
  redirectUri: string;
}

/** A refusal the person can act on; shown on the console's sign-in page. */
export class ConsoleSignInError extends Error {
  override name = 'ConsoleSignInError';
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

export class ConsoleOidcFlow {
  private readonly discovered = new Map<string, Promise<client.Configuration>>();

  constructor(private readonly issuers: readonly OidcIssuerConfig[], private readonly consoleUrl: string | undefined) {}

  private configuration(issuer: OidcIssuerConfig): Promise<client.Configuration> {
    let found = this.discovered.get(issuer.name);
    if (!found) {
      const url = new URL(issuer.issuer);
      const insecure = url.protocol === 'http:';
      if (insecure && !(issuer.allowInsecure && LOOPBACK.test(url.hostname))) {
        return Promise.reject(new ConsoleSignInError(`identity provider ${issuer.issuer} is not https`));
      }
      found = client.discovery(url, issuer.consoleClientId, undefined, client.None(), insecure ? { execute: [client.allowInsecureRequests] } : undefined);
      // A failed discovery is retried on the next sign-in rather than cached.
      found.catch(() => this.discovered.delete(issuer.name));
      this.discovered.set(issuer.name, found);
    }
    return found;
  }

  private redirectUri(request: FastifyRequest): string {
    return `${this.consoleUrl ?? `${request.protocol}://${request.host}`}${CALLBACK_PATH}`;
  }

  /** Where to send the browser to sign in at `issuerName`; the flow's secrets go in a signed cookie. */
  async start(request: FastifyRequest, reply: FastifyReply, issuerName: string | undefined): Promise<string> {
    const issuer = issuerName ? this.issuers.find((i) => i.name === issuerName) : this.issuers.length === 1 ? this.issuers[0] : undefined;
    if (!issuer) throw new ConsoleSignInError(issuerName ? `no identity provider named "${issuerName}"` : 'choose an identity provider');
    const config = await this.configuration(issuer).catch((err: unknown) => {
      throw new ConsoleSignInError(`cannot reach identity provider ${issuer.name}: ${(err as Error).message}`);
    });
    const flow: FlowState = {
      issuer: issuer.name,
      verifier: client.randomPKCECodeVerifier(),
      state: client.randomState(),
      nonce: client.randomNonce(),
      redirectUri: this.redirectUri(request),
    };
    const url = client.buildAuthorizationUrl(config, {
      redirect_uri: flow.redirectUri,
      scope: issuer.scopes.join(' '),
      code_challenge: await client.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
    });
    // Lax, not Strict: the IdP's redirect back is a cross-site navigation that must carry it.
    reply.setCookie(FLOW_COOKIE, JSON.stringify(flow), {
      path: FLOW_COOKIE_PATH,
      httpOnly: true,
      sameSite: 'lax',
      secure: request.protocol === 'https',
      signed: true,
      maxAge: FLOW_TTL_S,
    });
    return url.href;
  }

  /** Completes the code exchange at the IdP and returns its ID token. */
  async finish(request: FastifyRequest, reply: FastifyReply): Promise<string> {
    const raw = request.cookies[FLOW_COOKIE];
    reply.clearCookie(FLOW_COOKIE, { path: FLOW_COOKIE_PATH });
    const unsigned = raw ? request.unsignCookie(raw) : undefined;
    if (!unsigned?.valid || !unsigned.value) throw new ConsoleSignInError('the sign-in took too long or was started elsewhere; start again');
    const flow = JSON.parse(unsigned.value) as FlowState;
    const issuer = this.issuers.find((i) => i.name === flow.issuer);
    if (!issuer) throw new ConsoleSignInError(`identity provider "${flow.issuer}" is no longer trusted`);
    const query = request.query as Record<string, string | undefined>;
    if (query['error']) throw new ConsoleSignInError(`the identity provider refused the sign-in: ${query['error_description'] ?? query['error']}`);
    const current = new URL(flow.redirectUri);
    current.search = new URL(request.url, 'http://callback.invalid').search;
    try {
      const config = await this.configuration(issuer);
      const tokens = await client.authorizationCodeGrant(config, current, {
        pkceCodeVerifier: flow.verifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      if (!tokens.id_token) throw new ConsoleSignInError('the identity provider returned no ID token');
      return tokens.id_token;
    } catch (err) {
      if (err instanceof ConsoleSignInError) throw err;
      throw new ConsoleSignInError(`sign-in failed: ${(err as Error).message}`);
    }
  }
}
