/**
 * The controller HTTP service: fastify with JSON schemas on every route, OpenAPI 3.1 generated
 * from them at /openapi.json, bearer-JWT auth on everything not marked public, and one
 * encapsulated plugin per API area (controller/plugins.ts).
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import swagger from '@fastify/swagger';
import cookie from '@fastify/cookie';
import type { ControllerServices } from './services.js';
import { areaPlugins } from './plugins.js';
import { installRouteAuth } from './route-auth.js';
import { installControllerTelemetry } from './telemetry.js';
import { errorResponseSchema, HttpError } from './http-errors.js';

export interface BuildControllerOptions {
  services: ControllerServices;
  /** Passed to fastify; `false` in tests. Defaults to the services' pino logger. */
  logger?: boolean;
  /** Serve HTTPS with this PEM certificate (chain) and key. */
  tls?: { cert: Buffer; key: Buffer };
}

export const CONTROLLER_VERSION = '0.1.0';

export interface RegisteredRoute {
  method: string;
  url: string;
  /** Left out of the OpenAPI document on purpose (only /openapi.json itself). */
  hidden: boolean;
}

const routeTables = new WeakMap<FastifyInstance, RegisteredRoute[]>();

/** Every route registered on a controller app (lets tests prove the OpenAPI document is complete). */
export function registeredRoutes(app: FastifyInstance): readonly RegisteredRoute[] {
  return routeTables.get(app) ?? [];
}

export async function buildControllerServer(opts: BuildControllerOptions): Promise<FastifyInstance> {
  const { services } = opts;
  // With a certificate the same app serves HTTPS (node:https); the instance API is unchanged.
  const app = Fastify({
    ...(opts.tls ? { https: { cert: opts.tls.cert, key: opts.tls.key, minVersion: 'TLSv1.2' as const } } : {}),
    ...(opts.logger === false ? { logger: false } : { loggerInstance: services.log as FastifyBaseLogger }),
    // Refuse unknown fields (with a 400 naming them) rather than dropping them silently.
    ajv: { customOptions: { removeAdditional: false, allErrors: false, allowUnionTypes: true } },
    bodyLimit: 5 * 1024 * 1024,
    // controller/telemetry.ts writes one line per request with actor, action, result and trace ids.
    logController: new LogController({ disableRequestLogging: true }),
  });

  app.addSchema(errorResponseSchema);
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Switchboard controller',
        version: CONTROLLER_VERSION,
        description: 'Org directory, role profiles, policy evaluation, enrolment and tokens for Switchboard gateways.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
      security: [{ bearer: [] }],
    },
    // Schemas added with addSchema are referenced by $id; give them readable component names.
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });

  app.setErrorHandler((err: FastifyError | HttpError, request, reply) => {
    if (err instanceof HttpError) {
      return reply.code(err.statusCode).headers(err.headers).send({ statusCode: err.statusCode, error: statusText(err.statusCode), message: err.message, ...(err.code ? { code: err.code } : {}) });
    }
    if (err.validation) {
      return reply.code(400).send({ statusCode: 400, error: 'Bad Request', message: err.message });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) request.log.error({ err }, 'controller request failed');
    return reply.code(status).send({ statusCode: status, error: statusText(status), message: status === 500 ? 'internal error' : err.message });
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ statusCode: 404, error: 'Not Found', message: `no route ${request.method} ${request.url.split('?')[0]}` }),
  );

  // Before route auth, so a refused request is traced and counted too.
  installControllerTelemetry(app, services);
  // Cookies are read only by the web console's session (controller/console/); the secret signs
  // its short-lived OIDC flow cookie, so a fresh one per process is enough.
  await app.register(cookie, { secret: randomBytes(32) });
  const oidc = services.oidc;
  installRouteAuth(app, services.tokens, oidc ? (sid) => oidc.sessionActive(sid) : undefined);
  const routes: RegisteredRoute[] = [];
  routeTables.set(app, routes);
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) {
      if (method !== 'HEAD') routes.push({ method, url: r.url, hidden: r.schema?.hide === true });
    }
  });

  app.get('/healthz', {
    config: { auth: 'public' },
    schema: {
      summary: 'Liveness and storage check',
      security: [],
      response: { 200: { type: 'object', required: ['ok'], properties: { ok: { type: 'boolean' }, storage: { type: 'string' } } } },
    },
  }, async () => ({ ok: true, storage: services.store.dialect }));

  app.get('/openapi.json', { config: { auth: 'public' }, schema: { hide: true } }, async () => app.swagger());

  for (const { plugin } of areaPlugins) await app.register(plugin, { services });
  return app;
}

function statusText(status: number): string {
  return (
    { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 410: 'Gone', 422: 'Unprocessable Entity' }[status] ??
    (status >= 500 ? 'Internal Server Error' : 'Error')
  );
}
