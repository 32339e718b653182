/** The local caller token: generated on first run, kept in <data-dir>/gateway-token (0600). */
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { readOrCreateSecret } from '../bin/data-dir.js';

export const LOCAL_TOKEN_FILE = 'gateway-token';

export function loadOrCreateLocalToken(dataDir: string): string {
  return readOrCreateSecret(join(dataDir, LOCAL_TOKEN_FILE), () => `sb-local-${randomBytes(24).toString('base64url')}`);
}
