/** A 0600 JSON file listing signing keys, shared by the access-token keys and the bundle keyring. */
import { existsSync, readFileSync, chmodSync } from 'node:fs';
import { writeFileAtomic } from '../bin/data-dir.js';

/**
 * Reads `{keys: [...]}` from `file` (tightening its mode to 0600), or creates it with `[await first()]`.
 * `label` names the keys in the error for an unreadable file.
 */
export async function loadOrCreateKeyFile<K>(file: string, label: string, first: () => Promise<K>): Promise<K[]> {
  if (!existsSync(file)) {
    const keys = [await first()];
    saveKeyFile(file, keys);
    return keys;
  }
  chmodSync(file, 0o600);
  try {
    const keys = (JSON.parse(readFileSync(file, 'utf8')) as { keys: K[] }).keys;
    if (!Array.isArray(keys) || keys.length === 0) throw new Error('no keys listed');
    return keys;
  } catch (err) {
    throw new Error(`${file}: unreadable ${label} (${(err as Error).message}); move it away to generate new keys`);
  }
}

export function saveKeyFile<K>(file: string, keys: readonly K[]): void {
  writeFileAtomic(file, JSON.stringify({ keys }, null, 2), 0o600);
}
