/**
 * Sets top-level keys in Goose's config.yaml without disturbing anything else: the file is parsed
 * as a YAML document (comments, key order, extensions and every other key survive) and only the
 * named keys are set.
 */
import { isMap, parseDocument, type Document } from 'yaml';

export class GooseConfigError extends Error {}

export interface KeyChange {
  key: string;
  /** Previous value as text, absent when the key was not set. */
  from?: string;
  to: string;
}

export interface MergedConfig {
  text: string;
  /** Keys whose value actually changes (empty when the file already says all of this). */
  changes: KeyChange[];
}

/** A value under `extensions:` (Goose merges that map per extension key and field). */
export type ExtensionEntry = Record<string, string | number | boolean | string[] | Record<string, string>>;

/**
 * `existing` is the current file text (undefined when there is no file yet). `extensions` entries
 * replace the entry of the same key under `extensions:`; other extensions are left alone.
 */
export function mergeGooseConfig(
  existing: string | undefined,
  settings: Record<string, string>,
  fileName = 'config.yaml',
  extensions: Record<string, ExtensionEntry> = {},
): MergedConfig {
  // Widened from Document.Parsed so an empty (or comment-only) file can be given a mapping.
  const doc: Document = parseDocument(existing ?? '');
  if (doc.errors.length > 0) {
    throw new GooseConfigError(`${fileName} is not valid YAML (${doc.errors[0]!.message.split('\n')[0]}); fix it or move it away, it was left unchanged`);
  }
  if (doc.contents === null || doc.contents === undefined) {
    doc.contents = doc.createNode({});
  } else if (!isMap(doc.contents)) {
    throw new GooseConfigError(`${fileName} must be a YAML mapping of keys to values; it was left unchanged`);
  }
  const changes: KeyChange[] = [];
  for (const [key, value] of Object.entries(settings)) {
    const current = doc.get(key);
    if (current === value) continue;
    changes.push({ key, ...(current === undefined || current === null ? {} : { from: String(current) }), to: value });
    doc.set(key, value);
  }
  if (Object.keys(extensions).length > 0) {
    const current = doc.get('extensions');
    if (current !== undefined && current !== null && !isMap(current)) {
      throw new GooseConfigError(`${fileName}: "extensions" must be a mapping of extension keys; it was left unchanged`);
    }
    if (current === null) doc.set('extensions', doc.createNode({}));
    for (const [key, entry] of Object.entries(extensions)) {
      const node = doc.getIn(['extensions', key]);
      const before = isMap(node) ? JSON.stringify(node.toJSON()) : undefined;
      if (before === JSON.stringify(entry)) continue;
      changes.push({ key: `extensions.${key}`, ...(before ? { from: before } : {}), to: JSON.stringify(entry) });
      doc.setIn(['extensions', key], doc.createNode(entry));
    }
  }
  if (changes.length === 0 && existing !== undefined) return { text: existing, changes };
  return { text: doc.toString(), changes };
}
