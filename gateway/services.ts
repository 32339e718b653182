/**
 * Wiring: builds every stage's dependencies from config and the data dir, then the pipeline.
 * Modules add their construction here; the order of stages is decided in pipeline.ts only.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Stage } from './context.js';
import { memoBytesPerTenant, previousTurnsBytes, type GatewayConfig } from './config.js';
import { PreviousTurns } from './wire/previous-turns.js';
import { buildPipeline } from './pipeline.js';
import { loadOrCreateLocalToken } from './local-token.js';
import { UpstreamRouter } from './upstream/router.js';
import { openGatewayDb, type GatewayDb } from '../platform/sqlite.js';
import { defaultPolicySource } from '../policies/default-source.js';
import { createCostServices } from './cost/services.js';
import { unknownModelPrice } from './cost/config.js';
import { estimatePromptTokens } from './cost/token-estimates.js';
import { OrgAllowance, type OrgBudgetConfig } from './cost/org-allowance.js';
import { BudgetConfigError } from '../policies/budgets.js';
import { ExactCache } from './cache/exact-cache.js';
import { exactCacheOptions, resolveCacheConfig } from './cache/config.js';
import { loadConfiguredRules, localRulesFile, policyDownshiftRules } from './downshift/active-rules.js';
import { registryLookup } from '../policies/downshift/rules.js';
import { createPrivacyGuardDeps } from './stages/privacy-guard.js';
import type { TenantDetectionMemos } from './guard/detection-memo.js';
import { detect } from './guard/detect.js';
import { createControllerLink, type ControllerLink } from './bundles/controller-link.js';
import type { ControllerLinkConfig } from './bundles/controller-link-config.js';
import { resolveTelemetryConfig } from '../platform/telemetry/config.js';
import { createTracing, type Tracing } from '../platform/telemetry/tracing.js';
import { ServiceMetrics } from '../platform/telemetry/metrics.js';
import { SecretStore, withStoredUpstreamKeys } from '../platform/secrets/store.js';

export interface GatewayServicesOptions {
  config: GatewayConfig;
  /** Root of the data dir (config, keys, gateway.db, logs). */
  dataDir: string;
  logger: Logger;
  /** Environment to read upstream keys from (tests pass their own). */
  env?: NodeJS.ProcessEnv;
  /** Clock for circuit-breaker cooldowns (tests inject one); default Date.now. */
  clock?: () => number;
  /** The `controller:` config section; absent = standalone (default policy, local audit only). */
  controller?: ControllerLinkConfig;
}

export interface GatewayServices {
  stages: Stage[];
  localToken: string;
  upstreams: UpstreamRouter;
  /** The embedded database, opened on first use. */
  db(): GatewayDb;
  /** Audit spool, and with a controller: bundle sync and audit shipper. */
  controllerLink: ControllerLink;
  /** OpenTelemetry tracing; undefined when `telemetry.traces` is 'off'. */
  tracing: Tracing | undefined;
  /** Counters and histograms behind /metrics (and OTLP when configured). */
  metrics: ServiceMetrics;
  /** The Privacy Guard's per-tenant detection memos (their size is reported by benchmarks). */
  guardMemos: TenantDetectionMemos | undefined;
  /** Previous turns of callers' conversations (wire/previous-turns.ts); undefined when configured off. */
  previousTurns: PreviousTurns | undefined;
  close(): Promise<void>;
}

/** The org budget allowance when `cost.org.enabled`; that needs a controller link. */
function createOrgAllowance(config: OrgBudgetConfig, link: ControllerLink, log: Logger): OrgAllowance | undefined {
  if (!config.enabled) return undefined;
  if (!link.controller) throw new BudgetConfigError('cost.org.enabled needs a controller: add a `controller:` section or enrol this gateway (`switchboard enrol`)');
  return new OrgAllowance({ config, controllerUrl: link.controller.url, token: link.controller.token, gatewayId: link.spool.chainId, log });
}

export async function createGatewayServices(opts: GatewayServicesOptions): Promise<GatewayServices> {
  const env = opts.env ?? process.env;
  const telemetry = resolveTelemetryConfig(opts.config.telemetry, env);
  const tracing = createTracing({ service: 'gateway', dataDir: opts.dataDir, config: telemetry });
  const metrics = new ServiceMetrics('gateway', telemetry);
  // The local token, guard keys and upstream keys live in the secret store (keychain or encrypted file).
  const secrets = SecretStore.open({ dataDir: opts.dataDir, env });
  const localToken = loadOrCreateLocalToken(opts.dataDir, secrets);
  // Upstream keys kept with `switchboard secrets set upstream.<name>` fill in for unset env vars
  // (in a copy: process.env never holds them, so env dumps of this process do not show them).
  const upstreamEnv = withStoredUpstreamKeys(env, opts.config.upstreams, secrets);
  const upstreams = new UpstreamRouter(opts.config, upstreamEnv, opts.logger, opts.clock);
  let db: GatewayDb | undefined;
  const getDb = () => (db ??= openGatewayDb(join(opts.dataDir, 'gateway.db')));
  const controllerLink = await createControllerLink({ dataDir: opts.dataDir, config: opts.controller, identity: opts.config.identity, db: getDb, log: opts.logger, env, ...(tracing ? { tracing } : {}) });

  const cost = createCostServices({ config: opts.config, dataDir: opts.dataDir, db: getDb(), logger: opts.logger });
  // Linked to a controller: usage records travel to its org ledger with the audit batches.
  if (controllerLink.shipper) {
    cost.store.reportToController();
    controllerLink.shipper.attachUsage(cost.store);
  }
  let allowance: OrgAllowance | undefined;
  try {
    allowance = createOrgAllowance(cost.config.org, controllerLink, opts.logger);
  } catch (err) {
    cost.close();
    await controllerLink.close();
    throw err;
  }
  const registry = cost.registry;
  const cacheConfig = resolveCacheConfig(opts.config.cache);
  const cache = cacheConfig.mode === 'off' ? undefined : new ExactCache(getDb(), exactCacheOptions(cacheConfig));
  const downshiftRules = loadConfiguredRules(opts.dataDir, opts.config.downshift, registryLookup(registry));
  // Said once at start: a local file silently shadowing the bundle's rules would puzzle cost owners.
  if (downshiftRules) opts.logger.info({ file: localRulesFile(opts.dataDir, opts.config.downshift) }, 'downshift: a local rule file applies; it overrides the rules of the policy bundle on this machine');

  const guard = createPrivacyGuardDeps({
    dataDir: opts.dataDir,
    db: getDb,
    detect,
    secrets,
    memoBytesPerTenant: memoBytesPerTenant(opts.config),
    // A tenant key rotated or imported with `switchboard secrets` replaces the derived one
    // (looked up again every second, so a rotation needs no restart).
    tenantKey: (tenantId: string) => (/^[a-z0-9][a-z0-9_-]{0,63}$/.test(tenantId) ? secrets.get(`tenant.${tenantId}.pseudonym`) : undefined),
  });
  const stages = buildPipeline({
    // The enrolled identity when this gateway is enrolled with a controller, else gateway.identity.
    auth: { localToken, identity: controllerLink.identity },
    policies: controllerLink.policies ?? defaultPolicySource,
    modelTier: registry.tierOf,
    audit: controllerLink.audit,
    extensions: { audit: controllerLink.audit },
    upstreams,
    forward: { attribution: opts.config.attribution },
    ...(cache ? { cache: { cache, mode: cacheConfig.mode, maxEntryBytes: exactCacheOptions(cacheConfig).maxEntryBytes } } : {}),
    downshift: { rules: downshiftRules, policyRules: policyDownshiftRules(registryLookup(registry), opts.logger), estimatePromptTokens },
    guard,
    cost: {
      budget: { ledger: cost.ledger, registry, config: cost.config, resolver: cost.resolver, ...(allowance ? { allowance } : {}) },
      meter: { registry, store: cost.store, ledger: cost.ledger, ...(allowance ? { allowance } : {}), unknownModelPrice: unknownModelPrice(cost.config.reservation) },
    },
  });

  return {
    stages,
    localToken,
    upstreams,
    db: getDb,
    controllerLink,
    tracing,
    metrics,
    guardMemos: guard.memos,
    previousTurns: previousTurnsBytes(opts.config) > 0 ? new PreviousTurns(previousTurnsBytes(opts.config)) : undefined,
    async close() {
      await allowance?.close();
      await controllerLink.close();
      await upstreams.close();
      cost.close();
      db?.close();
      await tracing?.shutdown();
      await metrics.shutdown();
    },
  };
}
