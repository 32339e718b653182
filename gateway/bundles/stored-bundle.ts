/**
 * The signed bundle a gateway keeps on disk for a role (written by the controller link), read and
 * verified against the key set stored beside it — for `doctor` and `rules active`, which report on
 * a gateway from outside it. Expired bundles verify too, so callers can say that they expired.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { BUNDLES_DIR } from './controller-link.js';
import { verifyBundle, type VerifiedBundle } from './verify.js';
import { validateBundleBody } from '../../policies/bundle/body.js';

export interface StoredBundlePaths {
  file: string;
  keys: string;
}

export function storedBundlePaths(dataDir: string, role: string): StoredBundlePaths {
  const dir = join(dataDir, BUNDLES_DIR);
  return { file: join(dir, `${role}.jws`), keys: join(dir, 'bundle-keys.json') };
}

/** Undefined when no bundle (or no key set) is stored for the role; throws when it does not verify. */
export async function readStoredBundle(paths: StoredBundlePaths, role: string): Promise<VerifiedBundle | undefined> {
  if (!existsSync(paths.file) || !existsSync(paths.keys)) return undefined;
  return verifyBundle(readFileSync(paths.file, 'utf8'), {
    jwks: JSON.parse(readFileSync(paths.keys, 'utf8')) as JSONWebKeySet,
    role,
    validate: validateBundleBody,
    allowExpired: true,
  });
}
