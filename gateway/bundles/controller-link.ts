/**
 * Everything the gateway does with its org controller, built once in gateway/services.ts:
 *   - the audit spool (always: a standalone gateway keeps a local, verifiable audit trail),
 *   - with a `controller:` config section, the audit shipper and the signed-bundle sync,
 *     whose bundle becomes the pipeline's PolicySource.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { GatewayDb } from '../store.js';
import type { PolicySource } from '../stages/policy.js';
import type { AuditStageDeps } from '../stages/audit.js';
import { AuditSpool } from '../audit/spool.js';
import { AuditShipper } from '../audit/shipper.js';
import { BundleSync } from './sync.js';
import { BundlePolicySource } from './policy-source.js';
import { validateBundleBody } from './body.js';
import type { ControllerLinkConfig } from './controller-link-config.js';
import { EnrolledTokenProvider, isEnrolled } from './enrolled-token.js';
import { readSignIn, SignInTokenProvider } from '../identity/signin.js';

export const BUNDLES_DIR = 'bundles';
const DAY_MS = 86_400_000;
const PRUNE_EVERY_MS = 6 * 3_600_000;

export interface ControllerLinkOptions {
  dataDir: string;
  /** Absent: standalone gateway (local audit only, default policy). */
  config: ControllerLinkConfig | undefined;
  identity: { tenantId: string; role: string };
  db: () => GatewayDb;
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** Bundle polls and audit shipments are traced and send `traceparent` to the controller. */
  tracing?: import('../telemetry/tracing.js').Tracing;
}

export interface ControllerLink {
  /** The bundle-backed policy source, when a controller is configured. */
  policies?: PolicySource;
  audit: AuditStageDeps;
  spool: AuditSpool;
  bundles?: BundleSync;
  shipper?: AuditShipper;
  close(): Promise<void>;
}

/**
 * The controller token: from the configured env var or file (read on every use, so an external
 * rotation is seen), else from this gateway's enrolment (refreshed automatically).
 */
export function controllerTokenProvider(config: ControllerLinkConfig, dataDir: string, env: NodeJS.ProcessEnv): () => string | Promise<string> {
  // A person's SSO sign-in (`switchboard login`) takes precedence over a machine enrolment.
  if (!config.tokenEnv && !config.tokenFile && readSignIn(dataDir)) {
    const signedIn = new SignInTokenProvider(dataDir);
    return () => signedIn.token();
  }
  if (!config.tokenEnv && !config.tokenFile && isEnrolled(dataDir)) {
    const enrolled = new EnrolledTokenProvider(dataDir, config.url);
    return () => enrolled.token();
  }
  return () => {
    if (config.tokenEnv) {
      const value = env[config.tokenEnv]?.trim();
      if (!value) throw new Error(`controller token: environment variable ${config.tokenEnv} is not set`);
      return value;
    }
    if (config.tokenFile) {
      const file = resolve(dataDir, config.tokenFile);
      if (!existsSync(file)) throw new Error(`controller token: file ${file} does not exist`);
      return readFileSync(file, 'utf8').trim();
    }
    throw new Error('controller token: enrol this gateway (`switchboard enrol --controller <url> --code <code>`) or set controller.tokenEnv or controller.tokenFile in switchboard.yaml');
  };
}

export async function createControllerLink(opts: ControllerLinkOptions): Promise<ControllerLink> {
  const spool = new AuditSpool(opts.db(), {
    onFlushError: (err, lost) => opts.log.error({ err, lost }, 'audit: could not write audit events to the spool'),
  });
  const retentionDays = opts.config?.audit.localRetentionDays ?? 90;
  const prune = () => {
    try {
      spool.prune(new Date(Date.now() - retentionDays * DAY_MS));
    } catch (err) {
      opts.log.error({ err }, 'audit: pruning the local spool failed');
    }
  };
  const pruneTimer = setInterval(prune, PRUNE_EVERY_MS);
  pruneTimer.unref();

  if (!opts.config) {
    prune();
    return {
      audit: { spool, defaultTenantId: opts.identity.tenantId },
      spool,
      async close() {
        clearInterval(pruneTimer);
        spool.flush();
      },
    };
  }

  const config = opts.config;
  const token = controllerTokenProvider(config, opts.dataDir, opts.env);
  const shipper = new AuditShipper({
    spool,
    controllerUrl: config.url,
    token,
    log: opts.log,
    batchSize: config.audit.batchSize,
    intervalMs: config.audit.flushIntervalMs,
    maxBackoffMs: config.audit.maxBackoffMs,
    ...(opts.tracing ? { tracing: opts.tracing } : {}),
  });
  const bundles = new BundleSync({
    controllerUrl: config.url,
    role: opts.identity.role,
    token,
    dir: join(opts.dataDir, BUNDLES_DIR),
    pollIntervalMs: config.bundles.pollIntervalMs,
    requestTimeoutMs: config.bundles.requestTimeoutMs,
    validate: validateBundleBody,
    log: opts.log,
    ...(opts.tracing ? { tracing: opts.tracing } : {}),
  });
  await bundles.start();
  shipper.start();
  prune();
  return {
    policies: new BundlePolicySource(() => bundles.current()),
    audit: { spool, defaultTenantId: opts.identity.tenantId, onAppend: () => shipper.notify() },
    spool,
    bundles,
    shipper,
    async close() {
      clearInterval(pruneTimer);
      spool.flush();
      await bundles.stop();
      await shipper.stop();
    },
  };
}
