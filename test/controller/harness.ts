/**
 * Builds a whole controller over a temp data dir (SQLite unless a PostgreSQL URL is given) and
 * mints tokens for any role, for route tests via fastify.inject or real HTTP.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createControllerServices, type ControllerServices } from '../../controller/services.js';
import { buildControllerServer } from '../../controller/server.js';

export interface TestController {
  app: FastifyInstance;
  services: ControllerServices;
  dataDir: string;
  /** A bearer header value for a token with these roles. */
  bearer(roles?: string[], subject?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTestController(opts: { dbUrl?: string; dataDir?: string } = {}): Promise<TestController> {
  const ownDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'sb-ctl-'));
  const services = await createControllerServices({ dataDir, dbUrl: opts.dbUrl });
  const app = await buildControllerServer({ services, logger: false });
  await app.ready();
  return {
    app,
    services,
    dataDir,
    async bearer(roles = ['admin'], subject = 'test-admin') {
      const { token } = await services.tokens.mintAccessToken({ subject, roles, authMethod: 'test' });
      return `Bearer ${token}`;
    },
    async close() {
      await app.close();
      await services.close();
      if (ownDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export const sampleDirectoryYaml = `
nodes:
  - { id: acme, kind: org, name: ACME Corp }
  - { id: finance-dept, kind: department, name: Finance, parent: acme }
  - { id: marketing-dept, kind: department, name: Marketing, parent: acme }
  - { id: payables, kind: team, name: Payables, parent: finance-dept }
  - { id: finance, kind: role, name: Finance }
  - { id: marketing, kind: role, name: Marketing }
  - { id: engineering, kind: role, name: Engineering }
  - { id: treasury, kind: role, name: Treasury }
  - { id: cfo, kind: person, name: Carla CFO, parent: finance-dept, email: carla@acme.test, roles: [finance, treasury] }
  - { id: lead, kind: person, name: Luis Lead, parent: payables, manager: cfo, roles: [finance] }
  - { id: ana, kind: person, name: Ana Accountant, parent: payables, manager: lead, roles: [finance], attributes: { clearance: 2 } }
  - { id: mia, kind: person, name: Mia Marketer, parent: marketing-dept, manager: cfo, roles: [marketing] }
`;
