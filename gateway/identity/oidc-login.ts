/**
 * `switchboard login`: sign the person in at their company IdP with openid-client, then trade
 * the ID token at the controller for their agent JWT and a sign-in session.
 *
 *   browser  authorisation code + PKCE (S256), state and nonce, loopback redirect to
 *            http://127.0.0.1:<random port>/callback (RFC 8252)
 *   device   device authorisation grant (RFC 8628) for machines with no browser
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { networkReason, postToController, SignInError, storeSignIn, type SignInResponse, type StoredSignIn } from './signin.js';
import { controllerFetch } from '../controller-tls.js';

export interface PublicIssuer {
  name: string;
  issuer: string;
  clientId: string;
  scopes: string[];
}

export interface DeviceCodePrompt {
  verificationUri: string;
  verificationUriComplete?: string;
  userCode: string;
  expiresIn: number;
}

export interface LoginOptions {
  controllerUrl: string;
  dataDir: string;
  /** Issuer name when the controller trusts several; default: the only one. */
  issuer?: string;
  flow: 'browser' | 'device';
  /** Browser flow: show the person the sign-in URL (open a browser, or print it). */
  openUrl(url: string): void | Promise<void>;
  /** Device flow: tell the person where to go and which code to type. */
  showDeviceCode(prompt: DeviceCodePrompt): void | Promise<void>;
  /** How long to wait for the person; default 5 minutes. */
  timeoutMs?: number;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])$/;

export async function fetchIssuers(controllerUrl: string): Promise<PublicIssuer[]> {
  let res: Response;
  try {
    res = await controllerFetch(`${controllerUrl}/api/v1/oidc/issuers`, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new SignInError(`cannot reach the controller at ${controllerUrl}: ${networkReason(err)}`);
  }
  const body = (await res.json().catch(() => ({}))) as { issuers?: PublicIssuer[]; message?: string };
  if (!res.ok || !Array.isArray(body.issuers)) throw new SignInError(`controller cannot sign you in (HTTP ${res.status}): ${body.message ?? 'no identity provider configured'}`);
  return body.issuers;
}

function pickIssuer(issuers: PublicIssuer[], name: string | undefined): PublicIssuer {
  if (name) {
    const found = issuers.find((i) => i.name === name);
    if (!found) throw new SignInError(`the controller does not trust an identity provider named "${name}" (it has: ${issuers.map((i) => i.name).join(', ')})`);
    return found;
  }
  if (issuers.length !== 1) throw new SignInError(`the controller trusts several identity providers; choose one with --issuer (${issuers.map((i) => i.name).join(', ')})`);
  return issuers[0]!;
}

async function discover(issuer: PublicIssuer): Promise<client.Configuration> {
  const url = new URL(issuer.issuer);
  // Plain http only for an IdP on this machine (tests, a local IdP); anything else must be https.
  const insecure = url.protocol === 'http:';
  if (insecure && !LOOPBACK.test(url.hostname)) throw new SignInError(`identity provider ${issuer.issuer} is not https; refusing to sign in over plain http`);
  try {
    return await client.discovery(url, issuer.clientId, undefined, client.None(), insecure ? { execute: [client.allowInsecureRequests] } : undefined);
  } catch (err) {
    throw new SignInError(`cannot use identity provider ${issuer.issuer}: ${networkReason(err)}`);
  }
}

export async function login(opts: LoginOptions): Promise<StoredSignIn> {
  const controllerUrl = opts.controllerUrl.replace(/\/+$/, '');
  const issuer = pickIssuer(await fetchIssuers(controllerUrl), opts.issuer);
  const config = await discover(issuer);
  const scope = issuer.scopes.join(' ');
  const timeoutMs = opts.timeoutMs ?? 5 * 60_000;
  const idToken = opts.flow === 'device' ? await deviceFlow(config, scope, opts, timeoutMs) : await browserFlow(config, scope, opts, timeoutMs);
  const { json } = await postToController(`${controllerUrl}/api/v1/oidc/sign-in`, { id_token: idToken });
  return storeSignIn(opts.dataDir, controllerUrl, json as SignInResponse);
}

async function browserFlow(config: client.Configuration, scope: string, opts: LoginOptions, timeoutMs: number): Promise<string> {
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const { server, callback } = await loopbackCallback(timeoutMs);
  try {
    const { port } = server.address() as AddressInfo;
    const redirectUri = `http://127.0.0.1:${port}/callback`;
    const url = client.buildAuthorizationUrl(config, { redirect_uri: redirectUri, scope, code_challenge: challenge, code_challenge_method: 'S256', state, nonce });
    await opts.openUrl(url.href);
    const returned = await callback;
    if (returned.searchParams.get('error')) {
      throw new SignInError(`identity provider refused the sign-in: ${returned.searchParams.get('error_description') ?? returned.searchParams.get('error')}`);
    }
    const tokens = await client.authorizationCodeGrant(config, returned, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
    if (!tokens.id_token) throw new SignInError('identity provider returned no ID token');
    return tokens.id_token;
  } catch (err) {
    if (err instanceof SignInError) throw err;
    throw new SignInError(`sign-in failed: ${networkReason(err)}`);
  } finally {
    server.close();
    server.closeAllConnections();
  }
}

/** A one-shot HTTP server on 127.0.0.1 that waits for the IdP's redirect to /callback. */
async function loopbackCallback(timeoutMs: number): Promise<{ server: Server; callback: Promise<URL> }> {
  let resolve!: (url: URL) => void;
  let reject!: (err: Error) => void;
  const callback = new Promise<URL>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/callback') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>Switchboard</title><p>Signed in. You can close this window and return to the terminal.</p>');
    resolve(new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}${req.url ?? '/'}`));
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const timer = setTimeout(() => reject(new SignInError(`no sign-in within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
  timer.unref();
  void callback.finally(() => clearTimeout(timer)).catch(() => undefined);
  return { server, callback };
}

async function deviceFlow(config: client.Configuration, scope: string, opts: LoginOptions, timeoutMs: number): Promise<string> {
  try {
    const device = await client.initiateDeviceAuthorization(config, { scope });
    await opts.showDeviceCode({
      verificationUri: device.verification_uri,
      ...(device.verification_uri_complete ? { verificationUriComplete: device.verification_uri_complete } : {}),
      userCode: device.user_code,
      expiresIn: device.expires_in,
    });
    const tokens = await client.pollDeviceAuthorizationGrant(config, device, undefined, { signal: AbortSignal.timeout(timeoutMs) });
    if (!tokens.id_token) throw new SignInError('identity provider returned no ID token');
    return tokens.id_token;
  } catch (err) {
    if (err instanceof SignInError) throw err;
    throw new SignInError(`device sign-in failed: ${networkReason(err)}`);
  }
}
