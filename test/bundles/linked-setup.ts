/**
 * A real controller (HTTP on 127.0.0.1) and a real gateway linked to it, over temp data dirs,
 * with a scripted upstream. The controller can be stopped and restarted on the same port and
 * data dir; so can the gateway. Used by the bundle-sync and audit-shipping end-to-end tests.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { createControllerServices, type ControllerServices } from '../../controller/services.js';
import { buildControllerServer } from '../../controller/server.js';
import { createGatewayServer, type GatewayServer } from '../../gateway/server.js';
import { defaultGatewayConfig } from '../../gateway/config.js';
import { resolveControllerLink } from '../../gateway/bundles/controller-link-config.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { enrolGateway } from '../../gateway/bundles/enrolled-token.js';

export interface LinkedSetup {
  controllerUrl: string;
  controller(): { app: FastifyInstance; services: ControllerServices } | undefined;
  stopController(): Promise<void>;
  startController(): Promise<void>;
  gateway(): GatewayServer | undefined;
  gatewayUrl(): string;
  gatewayToken(): string;
  gatewayDataDir: string;
  startGateway(): Promise<void>;
  stopGateway(): Promise<void>;
  upstream: ScriptedUpstream;
  /** Gateway log lines (JSON text) since the start. */
  logs: string[];
  /** Bearer header for a controller token with these roles. */
  bearer(roles: string[], subject?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startLinkedSetup(opts: { role?: string; pollIntervalMs?: number; auth?: 'token-file' | 'enrolment' } = {}): Promise<LinkedSetup> {
  const role = opts.role ?? 'finance';
  const ctlDir = mkdtempSync(join(tmpdir(), 'sb-ctl-'));
  const gwDir = mkdtempSync(join(tmpdir(), 'sb-gw-'));
  const upstream = await startScriptedUpstream();
  const logs: string[] = [];
  const logger = pino(
    { level: 'debug' },
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        logs.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        cb();
      },
    }),
  );

  let ctl: { app: FastifyInstance; services: ControllerServices } | undefined;
  let port = 0;
  const startController = async () => {
    const services = await createControllerServices({ dataDir: ctlDir, tenant: 'acme' });
    const app = await buildControllerServer({ services, logger: false });
    await app.listen({ host: '127.0.0.1', port });
    port = (app.server.address() as { port: number }).port;
    ctl = { app, services };
  };
  const stopController = async () => {
    if (!ctl) return;
    const { app, services } = ctl;
    ctl = undefined;
    await app.close();
    await services.close();
  };
  await startController();
  const controllerUrl = `http://127.0.0.1:${port}`;
  if (opts.auth === 'enrolment') {
    const { code } = await ctl!.services.enrolment.createCode({ subject: 'gateway:test', roles: [role], ttlSeconds: 600, createdBy: 'test' });
    await enrolGateway(controllerUrl, code, gwDir);
  } else {
    const { token } = await ctl!.services.tokens.mintAccessToken({ subject: 'gateway:test', roles: [role], authMethod: 'test', ttlSeconds: 1800, claims: { tenant: 'acme' } });
    writeFileSync(join(gwDir, 'controller-token'), token);
  }

  let gw: GatewayServer | undefined;
  let gwUrl = '';
  const startGateway = async () => {
    const config = {
      ...defaultGatewayConfig(),
      port: 0,
      upstreams: [{ name: 'primary', kind: 'openrouter' as const, baseUrl: upstream.baseUrl, apiKeyEnv: 'TEST_UPSTREAM_KEY' }],
      retry: { maxAttempts: 1, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 2000 },
      identity: { tenantId: 'acme', userId: 'ana', role },
    };
    gw = await createGatewayServer({
      config,
      dataDir: gwDir,
      logger,
      env: { TEST_UPSTREAM_KEY: 'sk-upstream-test' },
      controller: resolveControllerLink({
        url: controllerUrl,
        ...(opts.auth === 'enrolment' ? {} : { tokenFile: 'controller-token' }),
        bundles: { pollIntervalMs: opts.pollIntervalMs ?? 100, requestTimeoutMs: 2000 },
        audit: { flushIntervalMs: 50, maxBackoffMs: 200, batchSize: 2 },
      }),
    });
    gwUrl = await gw.listen();
  };
  const stopGateway = async () => {
    if (!gw) return;
    const g = gw;
    gw = undefined;
    await g.close();
  };

  return {
    controllerUrl,
    controller: () => ctl,
    stopController,
    startController,
    gateway: () => gw,
    gatewayUrl: () => gwUrl,
    gatewayToken: () => gw!.services.localToken,
    gatewayDataDir: gwDir,
    startGateway,
    stopGateway,
    upstream,
    logs,
    async bearer(roles: string[], subject = 'test-user') {
      const minted = await ctl!.services.tokens.mintAccessToken({ subject, roles, authMethod: 'test' });
      return `Bearer ${minted.token}`;
    },
    async close() {
      await stopGateway();
      await stopController();
      await upstream.close();
      rmSync(ctlDir, { recursive: true, force: true });
      rmSync(gwDir, { recursive: true, force: true });
    },
  };
}

/** Polls until `check` is true (events are shipped asynchronously); fails after timeoutMs. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for: ${what}`);
}

export async function chat(url: string, token: string, model: string, content = 'Say hello'): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
  });
  return { status: res.status, body: await res.json() };
}
