/** Starts the controller service on a host/port (used by `switchboard controller` and end-to-end tests). */
import { traceLogMixin } from '../platform/telemetry/log-context.js';
import { pino, type Level } from 'pino';
import type { FastifyInstance } from 'fastify';
import { createControllerServices, type ControllerServices } from './services.js';
import { buildControllerServer } from './server.js';

export const DEFAULT_CONTROLLER_PORT = 8788;

export interface RunControllerOptions {
  dataDir: string;
  host?: string;
  port?: number;
  dbUrl?: string;
  /** Tenant served (controller/auth/tenant.ts). */
  tenant?: string;
  logLevel?: Level | 'silent';
  /** Audit settings (retentionDays), see controller/audit/routes.ts. */
  audit?: import('./audit/routes.js').AuditRouteSettings;
  /** Traces and metrics export (platform/telemetry/config.ts). */
  telemetry?: Partial<import('../platform/telemetry/config.js').TelemetryConfig>;
  /** Trusted OIDC issuers (controller/auth/oidc/config.ts). */
  oidc?: import('./auth/oidc/config.js').OidcConfig;
  /** Serve HTTPS with this PEM certificate and key. */
  tls?: { cert: Buffer; key: Buffer };
  /** Agent-mesh timings (controller/mesh/settings.ts). */
  mesh?: Partial<import('./mesh/settings.js').MeshSettings>;
}

export interface RunningController {
  url: string;
  app: FastifyInstance;
  services: ControllerServices;
  stop(): Promise<void>;
}

export async function runController(opts: RunControllerOptions): Promise<RunningController> {
  // traceId/spanId of the request being served go on every line (platform/telemetry/log-context.ts).
  const log = pino({ level: opts.logLevel ?? 'info', base: { service: 'switchboard-controller' }, mixin: traceLogMixin });
  const services = await createControllerServices({
    dataDir: opts.dataDir,
    dbUrl: opts.dbUrl,
    log,
    ...(opts.tenant !== undefined ? { tenant: opts.tenant } : {}),
    ...(opts.telemetry ? { telemetry: opts.telemetry } : {}),
    ...(opts.oidc ? { oidc: opts.oidc } : {}),
    ...(opts.mesh ? { mesh: opts.mesh } : {}),
  });
  if (opts.audit) services.audit = opts.audit;
  let app: FastifyInstance;
  try {
    await services.store.warmUp();
    app = await buildControllerServer({ services, logger: opts.logLevel !== 'silent', ...(opts.tls ? { tls: opts.tls } : {}) });
    await app.listen({ host: opts.host ?? '127.0.0.1', port: opts.port ?? DEFAULT_CONTROLLER_PORT });
  } catch (err) {
    await services.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : (opts.port ?? DEFAULT_CONTROLLER_PORT);
  const host = opts.host ?? '127.0.0.1';
  const url = `${opts.tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log.info({ url, tenant: services.tenant, storage: services.store.location, profiles: services.profiles.roles(), policyVersion: services.evaluator.version }, 'controller listening');
  return {
    url,
    app,
    services,
    async stop() {
      await app.close();
      await services.close();
    },
  };
}
