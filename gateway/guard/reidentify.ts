/**
 * Non-stream re-identification: puts the real values back into a complete answer before the
 * client sees it, in every field the response map of its wire format names
 * (gateway/wire/<format>/response.ts) — the same fields masking covers on the way out. JSON held
 * in a string (tool-call arguments) gets JSON-escaped values; JSON values (tool_use input) are
 * restored leaf by leaf. Uses the same matcher as the streaming path, so both give the same text.
 */
import type { JsonObject, JsonValue } from '../context.js';
import type { TextField, WireMap } from '../wire/types.js';
import { reidentifyText, type PseudonymMatcher } from './reidentify-stream.js';

/** Every string leaf inside a JSON value; keys stay as they are. True when anything changed. */
function restoreJsonStrings(value: JsonObject | JsonValue[], matcher: PseudonymMatcher): boolean {
  let changed = false;
  const holder = value as Record<string | number, JsonValue>;
  const keys: Array<string | number> = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  for (const k of keys) {
    const item = holder[k];
    if (typeof item === 'string') {
      const out = reidentifyText(matcher, item);
      if (out !== item) ((holder[k] = out), (changed = true));
    } else if (typeof item === 'object' && item !== null && restoreJsonStrings(item, matcher)) changed = true;
  }
  return changed;
}

/** Restores one field of the wire map in place; true when it changed. */
export function restoreField(f: TextField, matcher: PseudonymMatcher): boolean {
  const holder = f.holder as Record<string | number, JsonValue>;
  const v = holder[f.key];
  if (typeof v === 'string') {
    const out = reidentifyText(matcher, v, f.kind === 'json-string');
    if (out === v) return false;
    holder[f.key] = out;
    return true;
  }
  if (typeof v === 'object' && v !== null) return restoreJsonStrings(v, matcher);
  return false;
}

/** A response body of the map's format, in place; true when anything changed. */
export function reidentifyBody(map: WireMap, body: JsonValue, matcher: PseudonymMatcher): boolean {
  if (matcher.size === 0) return false;
  let changed = false;
  map.responseFields(body, (f) => {
    if (restoreField(f, matcher)) changed = true;
  });
  return changed;
}
