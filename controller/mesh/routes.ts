/**
 * The agent mesh API: one encapsulated plugin holding the shared schemas, the Idempotency-Key
 * hooks for every mesh write, and the sweeper's life cycle; each mesh area registers inside it.
 */
import type { AreaPlugin } from '../plugins.js';
import { installIdempotency } from '../idempotency/hook.js';
import { meshSharedSchemas } from './route-schemas.js';
import { agentRoutes } from '../agents/routes.js';
import { taskRoutes } from '../tasks/routes.js';
import { sessionRoutes } from '../sessions/routes.js';
import { approvalRoutes } from '../approvals/routes.js';
import { notificationRoutes } from '../notifications/routes.js';
import { statusRoutes } from './status-routes.js';

export const meshRoutes: AreaPlugin = async (app, opts) => {
  for (const s of meshSharedSchemas) app.addSchema(s);
  installIdempotency(app, opts.services.store.db);
  app.addHook('onReady', async () => opts.services.mesh.start(app.log));
  app.addHook('onClose', async () => opts.services.mesh.stop());
  for (const area of [agentRoutes, taskRoutes, sessionRoutes, approvalRoutes, notificationRoutes, statusRoutes]) await app.register(area, opts);
};
