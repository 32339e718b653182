/**
 * Every area of the controller API, one encapsulated fastify plugin each. To add an area, write
 * `controller/<area>/routes.ts` exporting an `AreaPlugin` and add one line here.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ControllerServices } from './services.js';
import { wellKnownRoutes } from './auth/well-known-routes.js';
import { authRoutes } from './auth/routes.js';
import { directoryRoutes } from './directory/routes.js';
import { profileRoutes } from './profiles/routes.js';
import { downshiftRuleRoutes } from './profiles/downshift-rules.js';
import { evaluateRoutes } from './policy/routes.js';
import { bundleRoutes } from './bundles/routes.js';
import { auditRoutes } from './audit/routes.js';
import { oidcRoutes } from './auth/oidc/routes.js';
import { gooseRoutes } from './goose/routes.js';
import { meshRoutes } from './mesh/routes.js';
import { a2aRoutes } from './a2a/routes.js';
import { consoleRoutes } from './console/routes.js';
import { ledgerRoutes } from './ledger/routes.js';

export interface AreaOptions {
  services: ControllerServices;
}

export type AreaPlugin = FastifyPluginAsync<AreaOptions>;

export const areaPlugins: ReadonlyArray<{ name: string; plugin: AreaPlugin }> = [
  { name: 'well-known', plugin: wellKnownRoutes },
  { name: 'auth', plugin: authRoutes },
  { name: 'directory', plugin: directoryRoutes },
  { name: 'profiles', plugin: profileRoutes },
  { name: 'downshift-rules', plugin: downshiftRuleRoutes },
  { name: 'evaluate', plugin: evaluateRoutes },
  { name: 'bundles', plugin: bundleRoutes },
  { name: 'audit', plugin: auditRoutes },
  { name: 'oidc', plugin: oidcRoutes },
  { name: 'goose', plugin: gooseRoutes },
  { name: 'mesh', plugin: meshRoutes },
  { name: 'a2a', plugin: a2aRoutes },
  { name: 'console', plugin: consoleRoutes },
  { name: 'ledger', plugin: ledgerRoutes },
];
