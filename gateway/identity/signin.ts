/**
 * The person's sign-in as this machine keeps it: who signed in and at which controller in
 * <data-dir>/signin.json (0600), and the single-use session token from `switchboard login` in the
 * secret store (`signin.session-token`: the OS keychain or the encrypted file; a session token an
 * earlier version left in signin.json is moved there on first read). The gateway's controller
 * calls use SignInTokenProvider, which renews the agent JWT (rotating the session token) shortly
 * before it expires, until the sign-in ends.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../platform/atomic-file.js';
import { SecretStore } from '../../platform/secrets/store.js';
import { MANAGED_SECRETS } from '../../platform/secrets/managed.js';
import { controllerFetch } from '../controller-tls.js';

export const SIGNIN_FILE = 'signin.json';
const RENEW_MARGIN_S = 60;

/** The controller's answer to sign-in and renew (controller/auth/oidc/routes.ts). */
export interface SignInResponse {
  access_token: string;
  expires_in: number;
  session_token: string;
  session_expires_at: number;
  subject: string;
  roles: string[];
  issuer: string;
}

export interface StoredSignIn {
  controllerUrl: string;
  subject: string;
  roles: string[];
  issuer: string;
  sessionToken: string;
  sessionExpiresAt: number;
}

/** A sign-in problem with a message fit for the user (never contains a token). */
export class SignInError extends Error {
  override name = 'SignInError';
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

/** "fetch failed" says nothing: name the cause (ECONNREFUSED, a certificate error, a timeout). */
export function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

export async function postToController(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  let res: Response;
  try {
    res = await controllerFetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new SignInError(`cannot reach the controller at ${new URL(url).origin}: ${networkReason(err)}`);
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const message = (json as { message?: unknown } | undefined)?.message;
    throw new SignInError(`controller refused (HTTP ${res.status}): ${typeof message === 'string' ? message : 'no reason given'}`, res.status);
  }
  return { status: res.status, json };
}

export function signInPath(dataDir: string): string {
  return join(dataDir, SIGNIN_FILE);
}

const SESSION_SECRET = MANAGED_SECRETS.signInSession.name;

export function readSignIn(dataDir: string): StoredSignIn | undefined {
  const path = signInPath(dataDir);
  if (!existsSync(path)) return undefined;
  let saved: Omit<StoredSignIn, 'sessionToken'> & { sessionToken?: string };
  try {
    saved = JSON.parse(readFileSync(path, 'utf8')) as typeof saved;
  } catch {
    throw new SignInError(`${path} is damaged; run \`switchboard login\` again`);
  }
  const store = SecretStore.open({ dataDir });
  if (saved.sessionToken) {
    // Written by an earlier version: move the token into the store, then drop it from the file.
    store.set(SESSION_SECRET, saved.sessionToken);
    const { sessionToken, ...rest } = saved;
    writeFileAtomic(path, JSON.stringify(rest, null, 2), 0o600);
    return { ...rest, sessionToken };
  }
  const sessionToken = store.get(SESSION_SECRET);
  if (!sessionToken) throw new SignInError('the sign-in has no session token in the secret store; run `switchboard login` again');
  return { ...saved, sessionToken };
}

export function storeSignIn(dataDir: string, controllerUrl: string, r: SignInResponse): StoredSignIn {
  const stored: StoredSignIn = {
    controllerUrl,
    subject: r.subject,
    roles: r.roles,
    issuer: r.issuer,
    sessionToken: r.session_token,
    sessionExpiresAt: r.session_expires_at,
  };
  // The token first: a file naming a sign-in whose token is missing would be a dead sign-in.
  SecretStore.open({ dataDir }).set(SESSION_SECRET, stored.sessionToken);
  const { sessionToken: _secret, ...onDisk } = stored;
  writeFileAtomic(signInPath(dataDir), JSON.stringify(onDisk, null, 2), 0o600);
  return stored;
}

export function forgetSignIn(dataDir: string): void {
  rmSync(signInPath(dataDir), { force: true });
  const store = SecretStore.open({ dataDir });
  if (store.list().some((s) => s.name === SESSION_SECRET)) store.delete(SESSION_SECRET);
}

/** Revokes the sign-in at the controller and forgets it here. */
export async function signOut(dataDir: string): Promise<StoredSignIn | undefined> {
  const stored = readSignIn(dataDir);
  if (!stored) return undefined;
  try {
    await postToController(`${stored.controllerUrl}/api/v1/oidc/sign-out`, { session_token: stored.sessionToken });
  } finally {
    forgetSignIn(dataDir);
  }
  return stored;
}

export class SignInTokenProvider {
  private access: { token: string; expiresAt: number } | undefined;
  private renewing: Promise<string> | undefined;

  constructor(
    private readonly dataDir: string,
    private readonly now: () => number = () => Date.now() / 1000,
  ) {}

  /** A valid agent JWT; renewed (one renewal at a time: the session token is single use) when close to expiry. */
  token(): Promise<string> {
    if (this.access && this.access.expiresAt - RENEW_MARGIN_S > this.now()) return Promise.resolve(this.access.token);
    this.renewing ??= this.renew().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  private async renew(): Promise<string> {
    const stored = readSignIn(this.dataDir);
    if (!stored) throw new SignInError('not signed in; run `switchboard login`');
    if (stored.sessionExpiresAt <= this.now()) {
      forgetSignIn(this.dataDir);
      throw new SignInError('sign-in has expired; run `switchboard login`');
    }
    let r: SignInResponse;
    try {
      r = (await postToController(`${stored.controllerUrl}/api/v1/oidc/renew`, { session_token: stored.sessionToken })).json as SignInResponse;
    } catch (err) {
      // Revoked, expired or removed from the directory: the stored sign-in is dead.
      if (err instanceof SignInError && (err.status === 401 || err.status === 403)) forgetSignIn(this.dataDir);
      throw err;
    }
    storeSignIn(this.dataDir, stored.controllerUrl, r);
    this.access = { token: r.access_token, expiresAt: this.now() + r.expires_in };
    return r.access_token;
  }
}
