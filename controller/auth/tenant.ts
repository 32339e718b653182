/**
 * The tenant a controller serves. Its directory, profiles and bundles belong to this tenant, and
 * every token it mints carries it (a `tenant` claim) unless a code or caller names another.
 * Kept in <data-dir>/controller-tenant so `serve`, `enrol-code` and `admin-token` always agree:
 * the first command that runs on a data dir fixes it, and a different `--tenant` later is an error.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../platform/atomic-file.js';
import { TENANT_PATTERN } from './access-tokens.js';

export const TENANT_FILE = 'controller-tenant';
export const DEFAULT_TENANT = 'default';

export class TenantConfigError extends Error {
  override name = 'TenantConfigError';
}

/** Reads the data dir's tenant, recording `requested` (or the default) on first use. */
export function loadOrCreateTenant(dataDir: string, requested?: string): string {
  if (requested !== undefined && !TENANT_PATTERN.test(requested)) {
    throw new TenantConfigError(`tenant "${requested}" must be letters, digits, _ . - (up to 128, starting with a letter or digit)`);
  }
  const file = join(dataDir, TENANT_FILE);
  if (existsSync(file)) {
    const stored = readFileSync(file, 'utf8').trim();
    if (!TENANT_PATTERN.test(stored)) throw new TenantConfigError(`${file} does not hold a valid tenant id ("${stored}")`);
    if (requested !== undefined && requested !== stored) {
      throw new TenantConfigError(`this controller's data dir serves tenant "${stored}", not "${requested}" (see ${file}); one controller data dir serves one tenant`);
    }
    return stored;
  }
  const tenant = requested ?? DEFAULT_TENANT;
  writeFileAtomic(file, `${tenant}\n`, 0o600);
  return tenant;
}
