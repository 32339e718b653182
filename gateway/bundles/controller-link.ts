/**
 * Everything the gateway does with its org controller, built once in gateway/services.ts:
 *   - the audit spool (always: a standalone gateway keeps a local, verifiable audit trail),
 *   - with a `controller:` config section or an enrolment (`switchboard enrol`), the audit
 *     shipper and the signed-bundle sync, whose bundle becomes the pipeline's PolicySource,
 *   - who the gateway's caller is: the enrolled tenant, subject and role when enrolled (the
 *     audit actor and the usage `user`), else `gateway.identity` from the config.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { GatewayDb } from '../../platform/sqlite.js';
import type { PolicySource } from '../stages/policy.js';
import type { AuditStageDeps } from '../stages/audit.js';
import { AuditSpool } from '../audit/spool.js';
import { AuditShipper } from '../audit/shipper.js';
import { BundleSync } from './sync.js';
import { BundlePolicySource, type BundlePolicyStatus } from './policy-source.js';
import { validateBundleBody } from '../../policies/bundle/body.js';
import { checkControllerUrl, resolveControllerLink, type ControllerLinkConfig } from './controller-link-config.js';
import { EnrolledTokenProvider, readEnrolment, type StoredEnrolment } from './enrolled-token.js';
import { readSignIn, SignInTokenProvider } from '../identity/signin.js';
import { trustControllerCaFile } from '../controller-tls.js';

export const BUNDLES_DIR = 'bundles';
const DAY_MS = 86_400_000;
const PRUNE_EVERY_MS = 6 * 3_600_000;

export interface GatewayIdentity {
  tenantId: string;
  userId: string;
  role: string;
}

/** Start-up problems with the controller link the user must fix (bad URL, enrolment mismatch). */
export class ControllerLinkError extends Error {
  override name = 'ControllerLinkError';
}

export interface ControllerLinkOptions {
  dataDir: string;
  /** Absent and not enrolled: standalone gateway (local audit only, default policy). */
  config: ControllerLinkConfig | undefined;
  identity: GatewayIdentity;
  db: () => GatewayDb;
  log: Logger;
  env: NodeJS.ProcessEnv;
  /** Bundle polls and audit shipments are traced and send `traceparent` to the controller. */
  tracing?: import('../../platform/telemetry/tracing.js').Tracing;
}

/** What /readyz says about the policy in force. */
export interface PolicyStatus extends Partial<BundlePolicyStatus> {
  source: 'built-in' | 'controller';
  role: string;
  /** False when a controller-linked gateway has no valid bundle (none yet, or expired into the fallback). */
  ready: boolean;
  /** The enrolled identity, when enrolled. */
  enrolled?: { subject: string; tenant: string; controller: string };
}

export interface ControllerLink {
  /** Who callers of this gateway are: the enrolled identity, or the configured one. */
  identity: GatewayIdentity;
  /** The bundle-backed policy source, when a controller is configured. */
  policies?: PolicySource;
  policyStatus(): PolicyStatus;
  audit: AuditStageDeps;
  spool: AuditSpool;
  bundles?: BundleSync;
  shipper?: AuditShipper;
  /** Where the controller is and how to authenticate to it (org budget leases use it too). */
  controller?: { url: string; token: () => string | Promise<string> };
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
  if (!config.tokenEnv && !config.tokenFile && readEnrolment(dataDir)) {
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

/**
 * The controller section in force: the config's, or one made from the enrolment alone. An
 * enrolment for another controller than the configured URL is a mistake, not a choice.
 */
function linkConfig(config: ControllerLinkConfig | undefined, enrolment: StoredEnrolment | undefined): ControllerLinkConfig | undefined {
  const usesEnrolment = enrolment !== undefined && !config?.tokenEnv && !config?.tokenFile;
  if (usesEnrolment && config && config.url !== enrolment.controllerUrl) {
    throw new ControllerLinkError(
      `controller.url in switchboard.yaml (${config.url}) is not the controller this gateway enrolled with (${enrolment.controllerUrl}); remove controller.url or enrol again with --controller ${config.url}`,
    );
  }
  const resolved = config ?? (enrolment ? resolveControllerLink({ url: enrolment.controllerUrl, ...(enrolment.insecure ? { insecure: true } : {}) }) : undefined);
  if (resolved) {
    const problem = checkControllerUrl(resolved.url, resolved.insecure === true || (usesEnrolment && enrolment.insecure === true));
    if (problem) throw new ControllerLinkError(problem);
  }
  return resolved;
}

/** The enrolled role to serve: the configured role if the enrolment grants it, else the first granted. */
function enrolledIdentity(enrolment: StoredEnrolment, configured: GatewayIdentity): GatewayIdentity {
  const role = enrolment.roles.includes(configured.role) ? configured.role : enrolment.roles[0]!;
  return { tenantId: enrolment.tenant, userId: enrolment.subject, role };
}

export async function createControllerLink(opts: ControllerLinkOptions): Promise<ControllerLink> {
  let enrolment: StoredEnrolment | undefined;
  let config: ControllerLinkConfig | undefined;
  try {
    // With an SSO sign-in (`switchboard login`) its token is used, not the enrolment's.
    enrolment = readSignIn(opts.dataDir) ? undefined : readEnrolment(opts.dataDir);
    config = linkConfig(opts.config, enrolment);
    // A private CA for the controller's certificate (relative paths: to the data dir).
    if (opts.config?.caFile) trustControllerCaFile(resolve(opts.dataDir, opts.config.caFile));
  } catch (err) {
    throw err instanceof ControllerLinkError ? err : new ControllerLinkError((err as Error).message);
  }
  const tokenFromEnrolment = enrolment !== undefined && config !== undefined && !config.tokenEnv && !config.tokenFile;
  const identity = tokenFromEnrolment ? enrolledIdentity(enrolment!, opts.identity) : opts.identity;

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

  if (!config) {
    prune();
    return {
      identity,
      policyStatus: () => ({ source: 'built-in', role: identity.role, version: 'default', ready: true }),
      audit: { spool, defaultTenantId: identity.tenantId },
      spool,
      async close() {
        clearInterval(pruneTimer);
        spool.flush();
      },
    };
  }

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
    role: identity.role,
    token,
    dir: join(opts.dataDir, BUNDLES_DIR),
    pollIntervalMs: config.bundles.pollIntervalMs,
    requestTimeoutMs: config.bundles.requestTimeoutMs,
    keyRefreshMs: config.bundles.keyRefreshMs,
    validate: validateBundleBody,
    log: opts.log,
    ...(opts.tracing ? { tracing: opts.tracing } : {}),
  });
  if (tokenFromEnrolment) {
    opts.log.info({ controller: config.url, tenant: identity.tenantId, subject: identity.userId, role: identity.role, roles: enrolment!.roles }, 'gateway identity: enrolled');
  }
  await bundles.start();
  shipper.start();
  prune();
  const policies = new BundlePolicySource(() => bundles.current(), identity.role, { expiryGraceMs: config.bundles.expiryGraceMs, log: opts.log });
  const enrolled = tokenFromEnrolment ? { subject: identity.userId, tenant: identity.tenantId, controller: config.url } : undefined;
  return {
    identity,
    policies,
    policyStatus: () => {
      const status = policies.status();
      return { source: 'controller', ...status, ready: status.state === 'current', ...(enrolled ? { enrolled } : {}) };
    },
    audit: { spool, defaultTenantId: identity.tenantId, onAppend: () => shipper.notify() },
    spool,
    bundles,
    shipper,
    controller: { url: config.url, token },
    async close() {
      clearInterval(pruneTimer);
      spool.flush();
      await bundles.stop();
      await shipper.stop();
    },
  };
}
