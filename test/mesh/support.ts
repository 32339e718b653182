/**
 * A whole controller for mesh tests on either backend (temp SQLite, or a fresh PostgreSQL
 * schema), the sample org chart imported, and helpers to call it as a given person.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createControllerServices, type ControllerServices } from '../../controller/services.js';
import { buildControllerServer } from '../../controller/server.js';
import { importDirectory } from '../../controller/directory/import.js';
import type { MeshSettings } from '../../controller/mesh/settings.js';
import { TEST_PG_URL, dropSchema } from '../controller/backends.js';
import { sampleDirectoryYaml } from '../controller/harness.js';

export type BackendName = 'sqlite' | 'postgres';
export const BACKENDS: BackendName[] = ['sqlite', 'postgres'];

export interface MeshTestController {
  app: FastifyInstance;
  services: ControllerServices;
  dataDir: string;
  dbUrl: string | undefined;
  token(subject: string, roles: string[]): Promise<string>;
  /** inject as `subject` (roles looked up from the sample org unless given). */
  call(subject: string, method: 'GET' | 'POST' | 'PATCH', url: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

export const SAMPLE_ROLES: Record<string, string[]> = {
  cfo: ['finance', 'treasury'],
  lead: ['finance'],
  ana: ['finance'],
  mia: ['marketing'],
  admin: ['admin'],
};

export async function startMeshController(
  backend: BackendName,
  mesh: Partial<MeshSettings> = {},
  shared?: { dataDir: string; dbUrl: string | undefined },
): Promise<MeshTestController> {
  const dataDir = shared?.dataDir ?? mkdtempSync(join(tmpdir(), 'sb-mesh-'));
  const schema = backend === 'postgres' && !shared ? `sb_mesh_${process.pid}_${randomBytes(4).toString('hex')}` : undefined;
  const dbUrl = shared ? shared.dbUrl : schema ? `${TEST_PG_URL}?schema=${schema}` : undefined;
  const services = await createControllerServices({ dataDir, dbUrl, mesh: { sweepMs: 3_600_000, ...mesh } });
  const app = await buildControllerServer({ services, logger: false });
  await app.ready();
  if (!shared) await importDirectory(sampleDirectoryYaml, 'yaml', 'sample.yaml', services.directory);
  const tokens = new Map<string, string>();
  const token = async (subject: string, roles: string[]) => {
    const key = `${subject}|${roles.join(',')}`;
    let t = tokens.get(key);
    if (!t) tokens.set(key, (t = (await services.tokens.mintAccessToken({ subject, roles, authMethod: 'test' })).token));
    return t;
  };
  return {
    app,
    services,
    dataDir,
    dbUrl,
    token,
    async call(subject, method, url, body, headers = {}) {
      const t = await token(subject, SAMPLE_ROLES[subject] ?? ['marketing']);
      return app.inject({ method, url, headers: { authorization: `Bearer ${t}`, ...headers }, ...(body !== undefined ? { payload: body as object } : {}) });
    },
    async close() {
      await app.close();
      await services.close();
      if (!shared) {
        if (schema) await dropSchema(schema);
        rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}

export async function registerAgent(c: MeshTestController, subject: string, agentId: string, extra: Record<string, unknown> = {}): Promise<void> {
  const role = SAMPLE_ROLES[subject]?.[0] ?? 'marketing';
  const res = await c.call(subject, 'POST', '/api/v1/agents', { agentId, role, ...extra });
  if (res.statusCode !== 200) throw new Error(`register ${agentId}: ${res.statusCode} ${res.body}`);
}

/** Mesh events of the audit store, oldest first. */
export async function meshAuditEvents(c: MeshTestController): Promise<Array<{ action: string; target: string | null; reason: string | null; result: string; cost: { tokens: number; usd: number }; actor: { id: string }; traceId: string; redactions: Array<{ class: string; count: number }> }>> {
  await c.services.mesh.audit.flush();
  const rows = await c.services.store.db.selectFrom('audit_events').select(['event', 'seq']).where('chain_id', '=', c.services.mesh.audit.chainId).orderBy('seq').execute();
  return rows.map((r) => JSON.parse(r.event));
}
