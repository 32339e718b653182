/** The local caller token: generated on first run, kept in the secret store as `gateway.local-token`. */
import { randomBytes } from 'node:crypto';
import { SecretStore } from '../platform/secrets/store.js';
import { MANAGED_SECRETS, loadOrCreateManagedSecret } from '../platform/secrets/managed.js';

/** Where earlier versions kept it (0600); moved into the store on first run. */
export const LOCAL_TOKEN_FILE = MANAGED_SECRETS.localToken.legacyFile;

export function loadOrCreateLocalToken(dataDir: string, store: SecretStore = SecretStore.open({ dataDir })): string {
  return loadOrCreateManagedSecret(store, dataDir, MANAGED_SECRETS.localToken, () => `sb-local-${randomBytes(24).toString('base64url')}`);
}
