/** Building blocks the format modules use to name fields: typed checks and one-field visits. */
import type { JsonObject, JsonValue } from '../context.js';
import type { FieldKind, FieldVisitor } from './types.js';

export function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Visits `holder[key]` when it holds a value of the shape `kind` needs. */
export function field(
  visit: FieldVisitor, holder: JsonObject | JsonValue[], key: string | number, kind: FieldKind, path: string,
  messageIndex?: number, tool?: string,
): void {
  const v = (holder as Record<string | number, JsonValue | undefined>)[key];
  if (v === undefined || v === null) return;
  if (kind === 'text' || kind === 'json-string') {
    if (typeof v !== 'string' || v.length === 0) return;
  } else if (typeof v !== 'object') {
    // A bare string where a JSON value is expected is still text.
    if (typeof v === 'string' && v.length > 0) kind = 'text';
    else return;
  }
  visit({ holder, key, kind, path, ...(messageIndex !== undefined ? { messageIndex } : {}), ...(tool !== undefined ? { tool } : {}) });
}

/** Every string value of an object of strings (`metadata`, `prompt.variables`). */
export function stringValues(visit: FieldVisitor, holder: JsonValue | undefined, path: string): void {
  if (!isObject(holder)) return;
  for (const k of Object.keys(holder)) field(visit, holder, k, 'text', `${path}.${k}`);
}

/** A string, or an array of strings (`stop`, embeddings `input`). */
export function stringOrStrings(visit: FieldVisitor, holder: JsonObject, key: string, path: string, perItemIndex = false): void {
  const v = holder[key];
  if (typeof v === 'string') field(visit, holder, key, 'text', path);
  else if (Array.isArray(v)) v.forEach((_, j) => field(visit, v, j, 'text', `${path}[${j}]`, perItemIndex ? j : undefined));
}
