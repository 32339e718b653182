/**
 * The gateway's controller identity from the enrolment flow: a one-time code is exchanged
 * (POST /api/v1/enrol) for a short-lived access token and a refresh token; the refresh token is
 * kept in <data-dir>/controller-enrolment.json (0600) and rotated (POST /api/v1/token/refresh)
 * whenever the access token is about to expire. Refreshes are serialised: presenting a spent
 * refresh token twice would make the controller revoke the whole enrolment.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../bin/data-dir.js';

export const ENROLMENT_FILE = 'controller-enrolment.json';
/** Refresh this long before the access token expires. */
const REFRESH_MARGIN_S = 60;

interface TokenResponse {
  access_token: string;
  expires_in: number;
  refresh_token: string;
  refresh_expires_at: number;
  subject: string;
  roles: string[];
}

interface StoredEnrolment {
  controllerUrl: string;
  subject: string;
  roles: string[];
  refreshToken: string;
  refreshExpiresAt: number;
}

export class EnrolmentError extends Error {
  override name = 'EnrolmentError';
}

async function post(url: string, body: unknown): Promise<TokenResponse> {
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    throw new EnrolmentError(`cannot reach the controller at ${url}: ${(err as Error).message}`);
  }
  const text = await res.text();
  if (!res.ok) {
    let message = text.slice(0, 200);
    try {
      message = (JSON.parse(text) as { message?: string }).message ?? message;
    } catch {
      // not JSON: keep the text
    }
    throw new EnrolmentError(`controller refused (HTTP ${res.status}): ${message}`);
  }
  return JSON.parse(text) as TokenResponse;
}

function store(dataDir: string, controllerUrl: string, t: TokenResponse): void {
  const stored: StoredEnrolment = { controllerUrl, subject: t.subject, roles: t.roles, refreshToken: t.refresh_token, refreshExpiresAt: t.refresh_expires_at };
  writeFileAtomic(join(dataDir, ENROLMENT_FILE), JSON.stringify(stored, null, 2), 0o600);
}

/** Exchanges a one-time code; stores the refresh token. Returns who the gateway now is. */
export async function enrolGateway(controllerUrl: string, code: string, dataDir: string): Promise<{ subject: string; roles: string[] }> {
  const base = controllerUrl.replace(/\/+$/, '');
  const t = await post(`${base}/api/v1/enrol`, { code });
  store(dataDir, base, t);
  return { subject: t.subject, roles: t.roles };
}

export function isEnrolled(dataDir: string): boolean {
  return existsSync(join(dataDir, ENROLMENT_FILE));
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
    const file = join(this.dataDir, ENROLMENT_FILE);
    if (!existsSync(file)) throw new EnrolmentError('this gateway is not enrolled: run `switchboard enrol --controller <url> --code <code>`');
    const stored = JSON.parse(readFileSync(file, 'utf8')) as StoredEnrolment;
    const t = await post(`${this.controllerUrl}/api/v1/token/refresh`, { refreshToken: stored.refreshToken });
    store(this.dataDir, this.controllerUrl, t);
    this.access = { token: t.access_token, expiresAt: Date.now() / 1000 + t.expires_in };
    return t.access_token;
  }
}
