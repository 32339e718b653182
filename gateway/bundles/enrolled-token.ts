/**
 * The gateway's controller identity from the enrolment flow. `switchboard enrol` checks the
 * controller's bundle keys against the fingerprint carried in the one-time code, exchanges the
 * code (POST /api/v1/enrol) and keeps, in <data-dir>/controller-enrolment.json (0600), who this
 * gateway now is (controller URL, tenant, subject, roles) and its refresh token; the pinned keys
 * go to <data-dir>/bundles/bundle-keys.json. The next `switchboard gateway` or `up` uses all of it.
 *
 * Access tokens are minted by rotating the refresh token (POST /api/v1/token/refresh) shortly
 * before they expire. Refreshes are serialised, each new refresh token is on disk (fsync'd)
 * before it is used, and a refresh whose reply was lost is retried with the same token: the
 * controller answers a repeat within its grace window with the same new pair.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { JSONWebKeySet } from 'jose';
import { keySetFingerprint } from '../../policies/bundle/format.js';
import { checkControllerUrl } from './controller-link-config.js';
import { controllerFetch } from '../controller-tls.js';

export const ENROLMENT_FILE = 'controller-enrolment.json';
export const BUNDLE_KEYS_FILE = join('bundles', 'bundle-keys.json');
/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_S = 60;
/** Attempts per refresh when the reply does not arrive (the controller's grace window is a minute). */
const REFRESH_ATTEMPTS = 3;
const CODE_PIN_SEPARATOR = '.';

interface TokenResponse {
  access_token: string;
  expires_in: number;
  refresh_token: string;
  refresh_expires_at: number;
  subject: string;
  roles: string[];
  tenant: string;
}

/** What `switchboard enrol` stored: the gateway's identity at its controller. */
export interface StoredEnrolment {
  controllerUrl: string;
  tenant: string;
  subject: string;
  roles: string[];
  refreshToken: string;
  refreshExpiresAt: number;
  /** Fingerprint of the bundle keys trusted at enrolment (from the code). */
  bundleKeysFingerprint: string;
  /** Set when enrolled over plain HTTP to a non-loopback controller with --insecure. */
  insecure?: boolean;
}

export class EnrolmentError extends Error {
  override name = 'EnrolmentError';
}

/** A refusal by the controller (as opposed to a reply that never arrived). */
class ControllerRefused extends EnrolmentError {}

async function post(url: string, body: unknown): Promise<TokenResponse> {
  let res: Response;
  let text: string;
  try {
    res = await controllerFetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    text = await res.text();
  } catch (err) {
    throw new EnrolmentError(`cannot reach the controller at ${url}: ${(err as Error).message}`);
  }
  if (!res.ok) {
    let message = text.slice(0, 200);
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // not JSON: keep the text
    }
    throw new ControllerRefused(`controller refused (HTTP ${res.status}): ${message}`);
  }
  return JSON.parse(text) as TokenResponse;
}

/** Write to a temp file, fsync, rename, fsync the folder: the new refresh token survives a crash. */
function writeDurably(path: string, data: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

function store(dataDir: string, previous: Pick<StoredEnrolment, 'controllerUrl' | 'bundleKeysFingerprint' | 'insecure'>, t: TokenResponse): StoredEnrolment {
  const stored: StoredEnrolment = {
    controllerUrl: previous.controllerUrl,
    tenant: t.tenant,
    subject: t.subject,
    roles: t.roles,
    refreshToken: t.refresh_token,
    refreshExpiresAt: t.refresh_expires_at,
    bundleKeysFingerprint: previous.bundleKeysFingerprint,
    ...(previous.insecure ? { insecure: true } : {}),
  };
  writeDurably(join(dataDir, ENROLMENT_FILE), JSON.stringify(stored, null, 2));
  return stored;
}

async function fetchBundleKeys(base: string): Promise<JSONWebKeySet> {
  let res: Response;
  try {
    res = await controllerFetch(`${base}/api/v1/bundle-keys`, { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new EnrolmentError(`cannot reach the controller at ${base}: ${(err as Error).message}`);
  }
  const jwks = (await res.json().catch(() => undefined)) as JSONWebKeySet | undefined;
  if (!res.ok || !jwks || !Array.isArray(jwks.keys)) throw new EnrolmentError(`the controller at ${base} did not serve its bundle keys (HTTP ${res.status})`);
  return jwks;
}

/**
 * Exchanges a one-time code, after checking the controller's bundle keys against the
 * fingerprint the code carries; stores the identity and the pinned keys.
 */
export async function enrolGateway(controllerUrl: string, code: string, dataDir: string, opts: { insecure?: boolean } = {}): Promise<StoredEnrolment> {
  const base = controllerUrl.replace(/\/+$/, '');
  const problem = checkControllerUrl(base, opts.insecure === true);
  if (problem) throw new EnrolmentError(problem);
  const cut = code.lastIndexOf(CODE_PIN_SEPARATOR);
  if (cut <= 0) throw new EnrolmentError('this enrolment code carries no bundle-key fingerprint (expected sbe_….<fingerprint>); ask for a new code');
  const secret = code.slice(0, cut);
  const pinned = code.slice(cut + 1);
  const jwks = await fetchBundleKeys(base);
  const actual = await keySetFingerprint(jwks);
  if (actual !== pinned) {
    throw new EnrolmentError(
      `the controller at ${base} presents bundle keys with fingerprint ${actual}, but the code was made for ${pinned}: ` +
        'this is not the controller that made the code, or its keys changed since; nothing was stored',
    );
  }
  const t = await post(`${base}/api/v1/enrol`, { code: secret });
  writeDurably(join(dataDir, BUNDLE_KEYS_FILE), JSON.stringify({ keys: jwks.keys }));
  return store(dataDir, { controllerUrl: base, bundleKeysFingerprint: pinned, ...(opts.insecure ? { insecure: true } : {}) }, t);
}

/** The stored enrolment, or undefined when this gateway never enrolled. */
export function readEnrolment(dataDir: string): StoredEnrolment | undefined {
  const file = join(dataDir, ENROLMENT_FILE);
  if (!existsSync(file)) return undefined;
  let stored: Partial<StoredEnrolment>;
  try {
    stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<StoredEnrolment>;
  } catch (err) {
    throw new EnrolmentError(`${file} is not readable JSON (${(err as Error).message}); enrol again`);
  }
  const valid =
    typeof stored.controllerUrl === 'string' && typeof stored.tenant === 'string' && typeof stored.subject === 'string' &&
    Array.isArray(stored.roles) && stored.roles.length > 0 && typeof stored.refreshToken === 'string';
  if (!valid) throw new EnrolmentError(`${file} lacks the controller URL, tenant, subject, roles or refresh token (made by an older version?); enrol again`);
  return stored as StoredEnrolment;
}

export class EnrolledTokenProvider {
  private access: { token: string; expiresAt: number } | undefined;
  private refreshing: Promise<string> | undefined;

  constructor(private readonly dataDir: string, private readonly controllerUrl: string) {}

  /** A valid access token, refreshed (and the refresh token rotated) when needed. */
  token(): Promise<string> {
    const nowS = Date.now() / 1000;
    if (this.access && this.access.expiresAt - REFRESH_MARGIN_S > nowS) return Promise.resolve(this.access.token);
    this.refreshing ??= this.refresh().finally(() => {
      this.refreshing = undefined;
    });
    return this.refreshing;
  }

  private async refresh(): Promise<string> {
    const stored = readEnrolment(this.dataDir);
    if (!stored) throw new EnrolmentError('this gateway is not enrolled: run `switchboard enrol --controller <url> --code <code>`');
    let t: TokenResponse | undefined;
    for (let attempt = 1; !t; attempt++) {
      try {
        t = await post(`${this.controllerUrl}/api/v1/token/refresh`, { refreshToken: stored.refreshToken });
      } catch (err) {
        // A refusal is final; a lost reply is retried with the same token (the controller repeats its answer).
        if (err instanceof ControllerRefused || attempt >= REFRESH_ATTEMPTS) throw err;
        await new Promise((r) => setTimeout(r, 250 * attempt));
      }
    }
    store(this.dataDir, stored, t);
    this.access = { token: t.access_token, expiresAt: Date.now() / 1000 + t.expires_in };
    return t.access_token;
  }
}
