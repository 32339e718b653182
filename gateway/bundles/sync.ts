/**
 * Keeps this gateway's signed policy bundle current: polls GET /api/v1/bundles/{role} with
 * If-None-Match, verifies every new bundle (signature, typ, expiry, role, schema, no rollback),
 * and only then swaps it in and writes it to <data-dir>/bundles/ as the last good bundle.
 * A refused bundle or an unreachable controller changes nothing: the gateway keeps serving
 * with the last good bundle, so a controller restart never disrupts running agents.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalJWKSet, generalVerify, type GeneralJWS, type JSONWebKeySet, type JWK } from 'jose';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../../platform/atomic-file.js';
import { bundleEtag, keySetProofPayload } from '../../policies/bundle/format.js';
import { BundleRejectedError, verifyBundle, type VerifiedBundle } from './verify.js';
import { controllerFetch } from '../controller-tls.js';

export interface BundleSyncOptions {
  controllerUrl: string;
  role: string;
  token: () => string | Promise<string>;
  /** Folder for the last good bundle and the controller's keys (under the data dir). */
  dir: string;
  pollIntervalMs: number;
  requestTimeoutMs?: number;
  /** How often to fetch the bundle keys again, so keys the controller removed stop being trusted. Default 1 h. */
  keyRefreshMs?: number;
  validate: (bundle: unknown) => string[];
  log: Logger;
  /** Called after a new bundle was accepted. */
  onUpdate?: (bundle: VerifiedBundle) => void;
  /** Each poll is a trace whose `traceparent` the controller continues. */
  tracing?: import('../../platform/telemetry/tracing.js').Tracing;
}

export type SyncResult = 'updated' | 'unchanged' | 'refused' | 'unreachable';

export class BundleSync {
  private bundle: VerifiedBundle | undefined;
  private jwks: JSONWebKeySet | undefined;
  private timer: NodeJS.Timeout | undefined;
  private keyTimer: NodeJS.Timeout | undefined;
  private inFlight: Promise<SyncResult> | undefined;
  private stopped = true;
  private lastProblem: string | undefined;
  private readonly bundleFile: string;
  private readonly jwksFile: string;

  constructor(private readonly opts: BundleSyncOptions) {
    if (!/^[A-Za-z0-9_-]+$/.test(opts.role)) throw new Error(`role "${opts.role}" cannot name a bundle file`);
    this.bundleFile = join(opts.dir, `${opts.role}.jws`);
    this.jwksFile = join(opts.dir, 'bundle-keys.json');
  }

  /** The bundle in force, if any. */
  current(): VerifiedBundle | undefined {
    return this.bundle;
  }

  /**
   * Loads the last good bundle from disk, then polls the controller every pollIntervalMs.
   * With a bundle on disk the first poll runs in the background (an unreachable controller
   * must not delay start-up); without one, start waits for it so the first request has a policy.
   */
  async start(): Promise<void> {
    mkdirSync(this.opts.dir, { recursive: true, mode: 0o700 });
    await this.loadFromDisk();
    this.stopped = false;
    const first = this.syncNow().finally(() => this.schedule());
    this.keyTimer = setInterval(() => {
      void this.refreshKeys().catch((err: unknown) => this.problem('warn', `could not refresh the bundle keys (${(err as Error).message})`, {}));
    }, this.opts.keyRefreshMs ?? 3_600_000);
    this.keyTimer.unref();
    if (!this.bundle) await first;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.keyTimer) clearInterval(this.keyTimer);
    this.timer = undefined;
    this.keyTimer = undefined;
    if (this.inFlight) await this.inFlight;
  }

  /** One poll; concurrent callers share it. */
  syncNow(): Promise<SyncResult> {
    this.inFlight ??= this.poll().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.syncNow().finally(() => this.schedule());
    }, this.opts.pollIntervalMs);
    this.timer.unref();
  }

  /**
   * Fetches the controller's bundle keys and trusts exactly those: a key it no longer publishes
   * (removed after a compromise) stops verifying at once. A bundle in force that was signed by a
   * removed key is dropped, and a new one asked for.
   */
  async refreshKeys(): Promise<void> {
    await this.fetchJwks();
    const bundle = this.bundle;
    if (!bundle) return;
    try {
      await verifyBundle(bundle.jws, { ...this.verifyOptions(), allowExpired: true });
    } catch (err) {
      if (!(err instanceof BundleRejectedError)) throw err;
      this.bundle = undefined;
      rmSync(this.bundleFile, { force: true });
      this.opts.log.error(
        { role: this.opts.role, version: bundle.version, kid: bundle.kid, reason: err.reason },
        'policy bundle: the controller no longer publishes the key that signed the bundle in force; bundle dropped, fetching a new one',
      );
      await this.syncNow();
    }
  }

  private async loadFromDisk(): Promise<void> {
    if (existsSync(this.jwksFile)) {
      try {
        this.jwks = JSON.parse(readFileSync(this.jwksFile, 'utf8')) as JSONWebKeySet;
      } catch (err) {
        this.opts.log.error({ file: this.jwksFile, err: (err as Error).message }, 'policy bundle: stored bundle keys are unreadable; fetching them again');
      }
    }
    if (!existsSync(this.bundleFile) || !this.jwks) return;
    try {
      // The stored bundle was fully verified when it arrived; re-check it was not altered on
      // disk, but accept it past expiry: an old policy beats no policy while the controller is away.
      const stored = await verifyBundle(readFileSync(this.bundleFile, 'utf8'), { ...this.verifyOptions(), allowExpired: true });
      this.bundle = stored;
      const expired = stored.expiresAt * 1000 <= Date.now();
      this.opts.log[expired ? 'warn' : 'info'](
        { role: stored.role, version: stored.version, expiresAt: new Date(stored.expiresAt * 1000).toISOString() },
        expired ? 'policy bundle: last good bundle on disk has expired; it applies only until its grace period ends, then the safe default policy (mask every class) does' : 'policy bundle: loaded last good bundle from disk',
      );
    } catch (err) {
      const reason = err instanceof BundleRejectedError ? `${err.reason}: ${err.message}` : (err as Error).message;
      this.opts.log.error({ file: this.bundleFile, reason }, 'policy bundle: stored bundle refused; waiting for the controller');
    }
  }

  private verifyOptions() {
    return {
      jwks: this.jwks ?? { keys: [] },
      role: this.opts.role,
      validate: this.opts.validate,
    };
  }

  private async poll(): Promise<SyncResult> {
    const url = `${this.opts.controllerUrl}/api/v1/bundles/${encodeURIComponent(this.opts.role)}`;
    let res: Response;
    let body: string;
    try {
      const headers: Record<string, string> = { authorization: `Bearer ${await this.opts.token()}`, accept: 'application/jose' };
      if (this.bundle) headers['if-none-match'] = bundleEtag(this.bundle.jws);
      const trace = this.opts.tracing?.startInternal('controller.bundleSync');
      if (trace) headers['traceparent'] = trace.traceparent();
      try {
        res = await controllerFetch(url, { headers, signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 10_000) });
        body = await res.text();
      } finally {
        trace?.end({}, false);
      }
    } catch (err) {
      this.problem('warn', `controller unreachable (${(err as Error).message})`, { url });
      return 'unreachable';
    }
    if (res.status === 304) {
      this.recovered();
      return 'unchanged';
    }
    if (!res.ok) {
      this.problem('warn', `controller answered HTTP ${res.status} for the bundle`, { url, body: body.slice(0, 200) });
      return 'unreachable';
    }
    try {
      const verified = await this.verifyWithKeyRefresh(body);
      if (this.bundle && verified.jws === this.bundle.jws) {
        this.recovered();
        return 'unchanged';
      }
      writeFileAtomic(this.bundleFile, verified.jws);
      const previous = this.bundle?.version;
      this.bundle = verified;
      this.lastProblem = undefined;
      this.opts.log.info(
        { role: verified.role, version: verified.version, previous, kid: verified.kid, expiresAt: new Date(verified.expiresAt * 1000).toISOString() },
        'policy bundle: accepted new bundle',
      );
      this.opts.onUpdate?.(verified);
      return 'updated';
    } catch (err) {
      if (!(err instanceof BundleRejectedError)) {
        this.problem('warn', `could not fetch the controller's bundle keys (${(err as Error).message})`, { url });
        return 'unreachable';
      }
      this.problem('error', `refused bundle (${err.reason}): ${err.message}`, {
        reason: err.reason,
        keepingVersion: this.bundle?.version ?? null,
      });
      return 'refused';
    }
  }

  /** Verifies with the cached keys; on an unknown kid, fetches the JWKS once and retries. */
  private async verifyWithKeyRefresh(jws: string): Promise<VerifiedBundle> {
    const options = () => ({ ...this.verifyOptions(), ...(this.bundle ? { notIssuedBefore: this.bundle.issuedAt } : {}) });
    try {
      if (!this.jwks) throw new BundleRejectedError('unknown-key', 'no bundle keys cached yet');
      return await verifyBundle(jws, options());
    } catch (err) {
      if (!(err instanceof BundleRejectedError) || err.reason !== 'unknown-key') throw err;
    }
    await this.fetchJwks();
    return verifyBundle(jws, options());
  }

  private async fetchJwks(): Promise<void> {
    const res = await controllerFetch(`${this.opts.controllerUrl}/api/v1/bundle-keys`, {
      headers: { authorization: `Bearer ${await this.opts.token()}` },
      signal: AbortSignal.timeout(this.opts.requestTimeoutMs ?? 10_000),
    });
    if (!res.ok) throw new Error(`bundle keys: HTTP ${res.status}`);
    const fetched = (await res.json()) as JSONWebKeySet & { proof?: GeneralJWS };
    if (!fetched || !Array.isArray(fetched.keys)) throw new Error('bundle keys: not a JWKS');
    const jwks = await this.acceptableKeys(fetched);
    this.jwks = jwks;
    writeFileAtomic(this.jwksFile, JSON.stringify(jwks));
  }

  /**
   * Which of the fetched keys to trust. Keys the controller no longer lists are dropped. New keys
   * are added only when the list is signed (`proof`) by a key already trusted — the keys pinned
   * at enrolment, then each rotation's successor — so whoever sits between the gateway and the
   * controller can at worst remove keys, never add one. With nothing trusted yet (a gateway given
   * a token instead of an enrolment), the first key set is taken as served.
   */
  private async acceptableKeys(fetched: JSONWebKeySet & { proof?: GeneralJWS }): Promise<JSONWebKeySet> {
    const trusted = this.jwks?.keys ?? [];
    if (trusted.length === 0) return { keys: fetched.keys };
    const same = (a: JWK, b: JWK) => a.kid === b.kid && a.x === b.x && a.kty === b.kty && a.crv === b.crv;
    const kept = fetched.keys.filter((k) => trusted.some((t) => same(t, k)));
    const added = fetched.keys.filter((k) => !trusted.some((t) => same(t, k)));
    if (added.length === 0) return { keys: kept };
    if (fetched.proof && (await this.provenByTrustedKey(fetched))) return { keys: fetched.keys };
    this.problem('error', `the controller lists bundle keys (${added.map((k) => k.kid).join(', ')}) that no trusted key signed; not trusting them (enrol again if the controller's keys were replaced)`, {});
    return { keys: kept };
  }

  private async provenByTrustedKey(fetched: JSONWebKeySet & { proof?: GeneralJWS }): Promise<boolean> {
    try {
      const { payload } = await generalVerify(fetched.proof!, createLocalJWKSet(this.jwks!), { algorithms: ['EdDSA'] });
      return Buffer.from(payload).equals(Buffer.from(keySetProofPayload({ keys: fetched.keys })));
    } catch {
      return false;
    }
  }

  /** Logs a problem once per distinct message (then at debug), so a long outage is one line. */
  private problem(level: 'warn' | 'error', message: string, fields: Record<string, unknown>): void {
    const repeated = this.lastProblem === message;
    this.lastProblem = message;
    this.opts.log[repeated ? 'debug' : level](
      { ...fields, role: this.opts.role, servingVersion: this.bundle?.version ?? null },
      `policy bundle: ${message}; ${this.bundle ? 'keeping the last good bundle' : 'no bundle yet, requests are refused'}`,
    );
  }

  private recovered(): void {
    if (this.lastProblem) this.opts.log.info({ role: this.opts.role }, 'policy bundle: controller reachable again');
    this.lastProblem = undefined;
  }
}
