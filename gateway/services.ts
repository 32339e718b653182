/**
 * Wiring: builds every stage's dependencies from config and the data dir, then the pipeline.
 * Modules add their construction here; the order of stages is decided in pipeline.ts only.
 */
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Stage } from './context.js';
import type { GatewayConfig } from './config.js';
import { buildPipeline } from './pipeline.js';
import { loadOrCreateLocalToken } from './local-token.js';
import { UpstreamRouter } from './upstream/router.js';
import { openGatewayDb, type GatewayDb } from './store.js';
import { defaultPolicySource } from '../policies/default-source.js';

export interface GatewayServicesOptions {
  config: GatewayConfig;
  /** Root of the data dir (config, keys, gateway.db, logs). */
  dataDir: string;
  logger: Logger;
  /** Environment to read upstream keys from (tests pass their own). */
  env?: NodeJS.ProcessEnv;
}

export interface GatewayServices {
  stages: Stage[];
  localToken: string;
  upstreams: UpstreamRouter;
  /** The embedded database, opened on first use. */
  db(): GatewayDb;
  close(): Promise<void>;
}

export async function createGatewayServices(opts: GatewayServicesOptions): Promise<GatewayServices> {
  const env = opts.env ?? process.env;
  const localToken = loadOrCreateLocalToken(opts.dataDir);
  const upstreams = new UpstreamRouter(opts.config, env, opts.logger);
  let db: GatewayDb | undefined;
  const getDb = () => (db ??= openGatewayDb(join(opts.dataDir, 'gateway.db')));

  const stages = buildPipeline({
    auth: { localToken, identity: opts.config.identity },
    policies: defaultPolicySource,
    upstreams,
    forward: { attribution: opts.config.attribution },
  });

  return {
    stages,
    localToken,
    upstreams,
    db: getDb,
    async close() {
      await upstreams.close();
      db?.close();
    },
  };
}
