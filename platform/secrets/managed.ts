/**
 * The secrets Switchboard itself keeps (the local caller token, the guard's master and vault keys,
 * the controller's signing keys, the sign-in session token), each under one name in the secret
 * store. Earlier versions kept them in 0600 files in the data dir: the first run after an upgrade
 * imports such a file into the store, reads it back, and only then deletes the file, so an
 * upgrade loses nothing and a crash half-way leaves the file in place for the next run.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SecretStore, SecretStoreError } from './store.js';

/** Store names of the managed secrets, and the files they were kept in before. */
export const MANAGED_SECRETS = {
  localToken: { name: 'gateway.local-token', legacyFile: 'gateway-token' },
  guardMaster: { name: 'guard.master', legacyFile: 'guard-master.key' },
  vaultKey: { name: 'vault.key', legacyFile: 'guard-vault.key' },
  accessTokenKeys: { name: 'signing.access-tokens', legacyFile: 'controller-keys.json' },
  bundleKeys: { name: 'signing.bundles', legacyFile: 'bundle-signing-keys.json' },
  signInSession: { name: 'signin.session-token', legacyFile: undefined },
} as const;

export type ManagedSecret = (typeof MANAGED_SECRETS)[keyof typeof MANAGED_SECRETS];

/**
 * The value of a managed secret: from the store; else imported from its legacy 0600 file (which
 * is then removed); else `make()`d and stored. `normalise` turns the file's text into the stored
 * value (e.g. trimming the trailing newline).
 */
export function loadOrCreateManagedSecret(store: SecretStore, dataDir: string, secret: ManagedSecret, make: () => string): string {
  const legacy = secret.legacyFile ? join(dataDir, secret.legacyFile) : undefined;
  const stored = store.get(secret.name);
  if (stored !== undefined) {
    // A run that stopped between storing and deleting left the file: delete it if it says the same.
    if (legacy && existsSync(legacy) && readFileSync(legacy, 'utf8').trim() === stored) rmSync(legacy, { force: true });
    return stored;
  }
  if (legacy && existsSync(legacy)) {
    const value = readFileSync(legacy, 'utf8').trim();
    if (value === '') throw new SecretStoreError(`${legacy} is empty; move it away to generate a new ${secret.name}`);
    importLegacy(store, secret.name, value, legacy);
    return value;
  }
  const value = make();
  store.set(secret.name, value);
  return value;
}

/** Stores a value taken from a legacy file, checks it reads back, then deletes the file. */
export function importLegacy(store: SecretStore, name: string, value: string, legacyPath: string): void {
  store.set(name, value);
  if (store.get(name) !== value) throw new SecretStoreError(`moving ${legacyPath} into the secret store failed (read-back differs); the file is kept`);
  rmSync(legacyPath, { force: true });
}
