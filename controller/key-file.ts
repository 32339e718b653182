/**
 * A JSON list of signing keys kept as one secret in the data dir's secret store (the OS keychain
 * or the encrypted file), shared by the access-token keys and the bundle keyring. Earlier versions
 * kept each list in a 0600 file; the first run moves the file into the store and deletes it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SecretStore } from '../platform/secrets/store.js';
import { importLegacy, type ManagedSecret } from '../platform/secrets/managed.js';

export interface KeyList<K> {
  keys: K[];
  save(keys: readonly K[]): void;
}

/**
 * Reads `{keys: [...]}` from the secret `secret.name` (importing its legacy file first when the
 * store has none), or creates it with `[await first()]`. `label` names the keys in errors.
 */
export async function loadOrCreateKeyList<K>(dataDir: string, secret: ManagedSecret, label: string, first: () => Promise<K>, store: SecretStore = SecretStore.open({ dataDir })): Promise<KeyList<K>> {
  const save = (keys: readonly K[]) => store.set(secret.name, JSON.stringify({ keys }));
  let text = store.get(secret.name);
  const legacy = secret.legacyFile ? join(dataDir, secret.legacyFile) : undefined;
  if (text === undefined && legacy && existsSync(legacy)) {
    text = readFileSync(legacy, 'utf8');
    parseKeys<K>(text, `${legacy}: unreadable ${label}`, 'move it away to generate new keys');
    importLegacy(store, secret.name, text, legacy);
  }
  if (text === undefined) {
    const keys = [await first()];
    save(keys);
    return { keys, save };
  }
  return { keys: parseKeys<K>(text, `the secret ${secret.name} holds unreadable ${label}`, `delete it with \`switchboard secrets delete ${secret.name}\` to generate new keys`), save };
}

function parseKeys<K>(text: string, what: string, remedy: string): K[] {
  try {
    const keys = (JSON.parse(text) as { keys: K[] }).keys;
    if (!Array.isArray(keys) || keys.length === 0) throw new Error('no keys listed');
    return keys;
  } catch (err) {
    // The parser's message, never the text: it holds private keys.
    throw new Error(`${what} (${err instanceof SyntaxError ? 'not JSON' : (err as Error).message}); ${remedy}`);
  }
}
