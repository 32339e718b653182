/**
 * Everything the controller's routes use, built once at start-up and handed to each area plugin.
 * Tests build the same object over a temp data dir.
 */
import { SecretStore } from '../platform/secrets/store.js';
import { pino, type Logger } from 'pino';
import { openControllerDb, type ControllerDb } from './storage/database.js';
import { DirectoryRepository } from './directory/repository.js';
import { SigningKeys } from './auth/signing-keys.js';
import { AccessTokens } from './auth/access-tokens.js';
import { Enrolment } from './auth/enrolment.js';
import { ProfileCatalog } from './profiles/catalog.js';
import { PolicyEvaluator } from './policy/evaluator.js';
import { DEFAULT_BUNDLE_TTL_MS, type BundleRouteSettings } from './bundles/settings.js';
import { BundleKeyring } from './bundles/keyring.js';
import { BundleStore } from './bundles/store.js';
import { ProfileStore } from './profiles/store.js';
import { DEFAULT_TENANT, TenantConfigError, loadOrCreateTenant } from './auth/tenant.js';
import { keySetFingerprint } from '../policies/bundle/format.js';
import type { AuditRouteSettings } from './audit/routes.js';
import { resolveTelemetryConfig, type TelemetryConfig } from '../platform/telemetry/config.js';
import { createTracing, type Tracing } from '../platform/telemetry/tracing.js';
import { ServiceMetrics } from '../platform/telemetry/metrics.js';
import { OidcSignIn } from './auth/oidc/sign-in.js';
import type { OidcConfig } from './auth/oidc/config.js';
import { createMeshServices, type MeshServices } from './mesh/services.js';
import type { MeshSettings } from './mesh/settings.js';
import { LedgerRepository, type LedgerSettings } from './ledger/repository.js';

export const DEFAULT_ISSUER = 'urn:switchboard:controller';
export const CONTROLLER_AUDIENCE = 'switchboard-controller';

export interface ControllerServices {
  dataDir: string;
  /** The tenant this controller serves (controller/auth/tenant.ts). */
  tenant: string;
  store: ControllerDb;
  directory: DirectoryRepository;
  /** Role profiles in force: the stored (API-editable) ones, seeded from the profile files. */
  profiles: ProfileCatalog;
  /** The editable, versioned profiles in the database (controller/profiles/store.ts). */
  profileStore: ProfileStore;
  evaluator: PolicyEvaluator;
  keys: SigningKeys;
  tokens: AccessTokens;
  enrolment: Enrolment;
  /** The agent mesh: agents, router, queue, sessions, approvals (controller/mesh/services.ts). */
  mesh: MeshServices;
  log: Logger;
  /** OpenTelemetry tracing of every route; undefined when traces are 'off'. */
  tracing: Tracing | undefined;
  /** Metrics behind GET /metrics; the mesh and approvals record routing decisions and approval times here. */
  metrics: ServiceMetrics;
  /** OIDC sign-in (controller/auth/oidc/); undefined when no issuer is configured. */
  oidc?: OidcSignIn;
  /** Bundle signing settings (controller/bundles/settings.ts); defaults when absent. Set before first use of bundleKeyring. */
  bundles?: BundleRouteSettings;
  /** The bundle signing keyring, loaded on first use with the `bundles` settings. */
  bundleKeyring(): Promise<BundleKeyring>;
  /** Signed bundles per role (controller/bundles/store.ts), shared by the bundle and profile routes. */
  bundleStore(): Promise<BundleStore>;
  /** Audit settings, e.g. retentionDays (controller/audit/routes.ts); defaults when absent. */
  audit?: AuditRouteSettings;
  /** The org ledger: reported spend, budgets, leases (controller/ledger/). */
  ledger: LedgerRepository;
  close(): Promise<void>;
}

export interface ControllerServicesOptions {
  dataDir: string;
  /** `postgres://…` or a SQLite path; default `<dataDir>/controller.db`. */
  dbUrl?: string;
  issuer?: string;
  /** Tenant to serve; fixed in the data dir on first use (default "default"). */
  tenant?: string;
  /** Extra profile folders, later ones overriding earlier (default: policies/profiles, then `<dataDir>/profiles`). */
  profileDirs?: string[];
  log?: Logger;
  /** Traces and metrics export; absent keys take platform/telemetry/config.ts defaults. */
  telemetry?: Partial<TelemetryConfig>;
  /** Where OTEL_* variables are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Trusted OIDC issuers and sign-in settings (controller/auth/oidc/config.ts). */
  oidc?: OidcConfig;
  /** Agent-mesh timings (tests shrink them). */
  mesh?: Partial<MeshSettings>;
  /** Lease lifetimes of the org ledger (tests shrink them). */
  ledger?: Partial<LedgerSettings>;
  /** How long directory node reads are reused (ms, 0 = never); see DirectoryRepositoryOptions. */
  directoryCacheMs?: number;
}

/**
 * Another controller process's directory import is seen within this long (this process's own at
 * once). Access tokens carry roles for minutes, so a few seconds more staleness adds little.
 */
export const DEFAULT_DIRECTORY_CACHE_MS = 5_000;

export async function createControllerServices(opts: ControllerServicesOptions): Promise<ControllerServices> {
  const log = opts.log ?? pino({ level: 'silent' });
  const profiles = ProfileCatalog.load(opts.profileDirs ?? ProfileCatalog.defaultDirs(opts.dataDir));
  // The OIDC config may name the tenant too ("default" when it does not); both must agree.
  const oidcTenant = opts.oidc && opts.oidc.tenant !== DEFAULT_TENANT ? opts.oidc.tenant : undefined;
  if (opts.tenant !== undefined && oidcTenant !== undefined && opts.tenant !== oidcTenant) {
    throw new TenantConfigError(`--tenant "${opts.tenant}" differs from the OIDC config's tenant "${oidcTenant}"`);
  }
  const tenant = loadOrCreateTenant(opts.dataDir, opts.tenant ?? oidcTenant);
  // Signing keys live in the data dir's secret store (keychain or encrypted file), one store for both lists.
  const secrets = SecretStore.open({ dataDir: opts.dataDir, env: opts.env ?? process.env });
  const keys = await SigningKeys.loadOrCreate(opts.dataDir, secrets);
  const store = await openControllerDb({ dataDir: opts.dataDir, url: opts.dbUrl });
  // The profiles in force are the stored ones (editable through the API), seeded from the files.
  const profileStore = new ProfileStore(store.db);
  let evaluator: PolicyEvaluator;
  try {
    for (const stored of (await profileStore.seed(profiles.all())).values()) profiles.replace(stored.profile);
    evaluator = await PolicyEvaluator.create(profiles);
  } catch (err) {
    await store.close();
    throw err;
  }
  const telemetry = resolveTelemetryConfig(opts.telemetry, opts.env ?? process.env);
  const tracing = createTracing({ service: 'controller', dataDir: opts.dataDir, config: telemetry });
  const metrics = new ServiceMetrics('controller', telemetry);
  const tokens = new AccessTokens(keys, { issuer: opts.issuer ?? DEFAULT_ISSUER, audience: CONTROLLER_AUDIENCE, tenant });
  const directory = new DirectoryRepository(store.db, { cacheMs: opts.directoryCacheMs ?? DEFAULT_DIRECTORY_CACHE_MS });
  const mesh = createMeshServices({ store, directory, profiles, evaluator, dataDir: opts.dataDir, settings: opts.mesh, metrics });
  let keyring: Promise<BundleKeyring> | undefined;
  let bundleStore: Promise<BundleStore> | undefined;
  const services: ControllerServices = {
    dataDir: opts.dataDir,
    tenant,
    store,
    ...(opts.oidc ? { oidc: new OidcSignIn({ ...opts.oidc, tenant }, store.db, directory, tokens) } : {}),
    directory,
    profiles,
    profileStore,
    evaluator,
    keys,
    tokens,
    enrolment: new Enrolment(store.db, tokens, {
      tenant,
      rolesOf: async (subject) => {
        const node = await directory.getFresh(subject);
        return node?.kind === 'person' ? node.roles : undefined;
      },
      bundleKeysFingerprint: async () => keySetFingerprint((await services.bundleKeyring()).jwks()),
    }),
    mesh,
    ledger: new LedgerRepository(store.db, store.dialect, opts.ledger),
    log,
    tracing,
    metrics,
    bundleKeyring() {
      const settings = services.bundles ?? {};
      keyring ??= BundleKeyring.loadOrCreate(opts.dataDir, {
        bundleTtlMs: settings.ttlMs ?? DEFAULT_BUNDLE_TTL_MS,
        ...(settings.publishLeadMs !== undefined ? { publishLeadMs: settings.publishLeadMs } : {}),
        ...(settings.now ? { now: settings.now } : {}),
      }, secrets);
      return keyring;
    },
    bundleStore() {
      const settings = services.bundles ?? {};
      bundleStore ??= services.bundleKeyring().then((k) => new BundleStore(store.db, k, settings.ttlMs ?? DEFAULT_BUNDLE_TTL_MS, settings.now));
      return bundleStore;
    },
    async close() {
      await mesh.stop();
      await store.close();
      await tracing?.shutdown();
      await metrics.shutdown();
    },
  };
  return services;
}
