/**
 * Everything the controller's routes use, built once at start-up and handed to each area plugin.
 * Tests build the same object over a temp data dir.
 */
import { pino, type Logger } from 'pino';
import { openControllerDb, type ControllerDb } from './storage/database.js';
import { DirectoryRepository } from './directory/repository.js';
import { SigningKeys } from './auth/signing-keys.js';
import { AccessTokens } from './auth/access-tokens.js';
import { Enrolment } from './auth/enrolment.js';
import { ProfileCatalog } from './profiles/catalog.js';
import { PolicyEvaluator } from './policy/evaluator.js';
import type { BundleRouteSettings } from './bundles/routes.js';
import type { AuditRouteSettings } from './audit/routes.js';
import { resolveTelemetryConfig, type TelemetryConfig } from '../gateway/telemetry/config.js';
import { createTracing, type Tracing } from '../gateway/telemetry/tracing.js';
import { ServiceMetrics } from '../gateway/telemetry/metrics.js';
import { OidcSignIn } from './auth/oidc/sign-in.js';
import type { OidcConfig } from './auth/oidc/config.js';
import { createMeshServices, type MeshServices } from './mesh/services.js';
import type { MeshSettings } from './mesh/settings.js';

export const DEFAULT_ISSUER = 'urn:switchboard:controller';
export const CONTROLLER_AUDIENCE = 'switchboard-controller';

export interface ControllerServices {
  dataDir: string;
  store: ControllerDb;
  directory: DirectoryRepository;
  profiles: ProfileCatalog;
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
  /** Bundle signing settings (controller/bundles/routes.ts); defaults when absent. */
  bundles?: BundleRouteSettings;
  /** Audit settings, e.g. retentionDays (controller/audit/routes.ts); defaults when absent. */
  audit?: AuditRouteSettings;
  close(): Promise<void>;
}

export interface ControllerServicesOptions {
  dataDir: string;
  /** `postgres://…` or a SQLite path; default `<dataDir>/controller.db`. */
  dbUrl?: string;
  issuer?: string;
  /** Extra profile folders, later ones overriding earlier (default: policies/profiles, then `<dataDir>/profiles`). */
  profileDirs?: string[];
  log?: Logger;
  /** Traces and metrics export; absent keys take gateway/telemetry/config.ts defaults. */
  telemetry?: Partial<TelemetryConfig>;
  /** Where OTEL_* variables are read (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Trusted OIDC issuers and sign-in settings (controller/auth/oidc/config.ts). */
  oidc?: OidcConfig;
  /** Agent-mesh timings (tests shrink them). */
  mesh?: Partial<MeshSettings>;
}

export async function createControllerServices(opts: ControllerServicesOptions): Promise<ControllerServices> {
  const log = opts.log ?? pino({ level: 'silent' });
  const profiles = ProfileCatalog.load(opts.profileDirs ?? ProfileCatalog.defaultDirs(opts.dataDir));
  const evaluator = await PolicyEvaluator.create(profiles);
  const keys = await SigningKeys.loadOrCreate(opts.dataDir);
  const store = await openControllerDb({ dataDir: opts.dataDir, url: opts.dbUrl });
  const telemetry = resolveTelemetryConfig(opts.telemetry, opts.env ?? process.env);
  const tracing = createTracing({ service: 'controller', dataDir: opts.dataDir, config: telemetry });
  const metrics = new ServiceMetrics('controller', telemetry);
  const tokens = new AccessTokens(keys, { issuer: opts.issuer ?? DEFAULT_ISSUER, audience: CONTROLLER_AUDIENCE });
  const directory = new DirectoryRepository(store.db);
  const mesh = createMeshServices({ store, directory, profiles, evaluator, dataDir: opts.dataDir, settings: opts.mesh });
  return {
    dataDir: opts.dataDir,
    store,
    ...(opts.oidc ? { oidc: new OidcSignIn(opts.oidc, store.db, directory, tokens) } : {}),
    directory,
    profiles,
    evaluator,
    keys,
    tokens,
    enrolment: new Enrolment(store.db, tokens),
    mesh,
    log,
    tracing,
    metrics,
    async close() {
      await mesh.stop();
      await store.close();
      await tracing?.shutdown();
      await metrics.shutdown();
    },
  };
}
