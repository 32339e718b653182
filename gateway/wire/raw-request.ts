/**
 * The request bytes as the client sent them, and the upstream payload built from them.
 *
 * An agent resends its whole conversation every turn; serialising a 300 KB body again
 * (JSON.stringify, then UTF-8) cost more than masking it. So the payload reuses the client's own
 * bytes for every item of the conversation array (`messages`, or Responses `input`) that nothing
 * changed, and serialises only the items masking rewrote plus the small top-level fields
 * (model, tools, caps) that stages may set.
 *
 * Fail closed: an item's bytes are reused only when
 * - the body is valid UTF-8 and has no duplicate object key anywhere, and no key with an escape
 *   (so the bytes mean exactly what JSON.parse gave the guard);
 * - the item is the same object at the same index as when it was parsed;
 * - no change was reported inside it (`markChanged`, called by masking for every rewritten text
 *   with that text's wire-map path). A change inside the array whose item cannot be told from its
 *   path turns reuse off for the whole request.
 * Anything else serialises the item (or the body) afresh, as before.
 */
import { isUtf8 } from 'node:buffer';
import type { JsonObject, JsonValue } from '../context.js';

/** Top-level arrays whose items are reused: chat and Anthropic `messages`, Responses `input`. */
const ITEM_KEYS = ['messages', 'input'] as const;
type ItemKey = (typeof ITEM_KEYS)[number];

interface RawRequest {
  bytes: Buffer;
  key: ItemKey;
  /** The array and its items as parsed (identity checks). */
  array: JsonValue[];
  items: JsonValue[];
  changed: Set<number>;
  /** False once a change could not be placed in an item. */
  reusable: boolean;
  /** Byte range of each item; null when the bytes cannot be reused; undefined before the scan. */
  ranges?: Array<[number, number]> | null;
}

const raws = new WeakMap<JsonObject, RawRequest>();

/** Remembers the bytes `body` was parsed from (the server calls this for every JSON request). */
export function rememberRawRequest(body: JsonValue, bytes: Buffer): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  for (const key of ITEM_KEYS) {
    const array = body[key];
    if (Array.isArray(array)) {
      if (array.length > 0) raws.set(body, { bytes, key, array, items: [...array], changed: new Set(), reusable: true });
      return;
    }
  }
}

/**
 * Reports that the text at wire-map `path` (`messages[3].content`, `input[0].output`, `tools[1]…`)
 * was rewritten. Top-level fields other than the item array are always serialised afresh.
 */
export function markChanged(body: JsonObject, path: string): void {
  const raw = raws.get(body);
  if (!raw || !path.startsWith(raw.key)) return;
  const rest = path.slice(raw.key.length);
  if (rest === '' || rest.startsWith('.')) {
    // The array key itself, or a field of the same name that is not the array: no reuse.
    raw.reusable = false;
    return;
  }
  const m = /^\[(\d+)\]/.exec(rest);
  if (m) raw.changed.add(Number(m[1]));
  else if (/^[A-Za-z0-9_]/.test(rest) === false) raw.reusable = false;
  // Otherwise another top-level key that merely starts with the same letters (`inputs`): not ours.
}

/** The upstream payload of `body` (with `model` replaced when given), reusing unchanged items' bytes. */
export function requestPayload(body: JsonObject, model?: string): Buffer {
  const value = model !== undefined ? { ...body, model } : body;
  const raw = raws.get(body);
  if (!raw || !raw.reusable || value[raw.key] !== raw.array || raw.array.length !== raw.items.length) return Buffer.from(JSON.stringify(value));
  if (raw.ranges === undefined) raw.ranges = itemRanges(raw.bytes, raw.key);
  const ranges = raw.ranges;
  if (!ranges || ranges.length !== raw.items.length) return Buffer.from(JSON.stringify(value));

  const parts: Buffer[] = [];
  let text = '{';
  let first = true;
  for (const k of Object.keys(value)) {
    const v = value[k];
    if (v === undefined) continue;
    text += `${first ? '' : ','}${JSON.stringify(k)}:`;
    first = false;
    if (k !== raw.key) {
      text += JSON.stringify(v);
      continue;
    }
    text += '[';
    for (let i = 0; i < raw.array.length; i++) {
      if (i > 0) text += ',';
      const item = raw.array[i];
      if (item === raw.items[i] && !raw.changed.has(i)) {
        parts.push(Buffer.from(text));
        text = '';
        parts.push(raw.bytes.subarray(ranges[i]![0], ranges[i]![1]));
      } else {
        text += item === undefined ? 'null' : JSON.stringify(item);
      }
    }
    text += ']';
  }
  parts.push(Buffer.from(`${text}}`));
  return Buffer.concat(parts);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Byte ranges of the items of the top-level array `key`, from one pass over the structure
 * (string contents are skipped with indexOf). Null when the bytes cannot stand for the parsed
 * body: invalid UTF-8, a duplicate key in any object, or an escaped key.
 */
export function itemRanges(bytes: Buffer, key: ItemKey): Array<[number, number]> | null {
  if (!isUtf8(bytes)) return null;
  // Per open container: its key set (objects) or null (arrays).
  const stack: Array<Set<string> | null> = [];
  let itemsDepth = -1;
  let itemStart = -1;
  let ranges: Array<[number, number]> | null = null;
  let pendingKey: string | undefined;
  const n = bytes.length;
  let pos = 0;
  // A value (scalar or container) starting at `at` in the items array.
  const valueStarts = (at: number) => {
    if (stack.length === itemsDepth) itemStart = at;
  };
  const valueEnds = (end: number) => {
    if (stack.length === itemsDepth && itemStart >= 0) {
      ranges!.push([itemStart, end]);
      itemStart = -1;
    }
  };
  while (pos < n) {
    const c = bytes[pos]!;
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x2c /* , */ || c === 0x3a /* : */) {
      pos++;
      continue;
    }
    if (c === QUOTE) {
      let end = pos + 1;
      for (;;) {
        end = bytes.indexOf(QUOTE, end);
        if (end < 0) return null;
        let backslashes = 0;
        while (bytes[end - 1 - backslashes] === BACKSLASH) backslashes++;
        if (backslashes % 2 === 0) break;
        end++;
      }
      // A key: the string is followed by a colon inside an object.
      let after = end + 1;
      while (after < n && (bytes[after] === 0x20 || bytes[after] === 0x0a || bytes[after] === 0x0d || bytes[after] === 0x09)) after++;
      const top = stack[stack.length - 1];
      if (bytes[after] === 0x3a && top) {
        const k = bytes.toString('latin1', pos + 1, end);
        if (k.includes('\\') || top.has(k)) return null;
        top.add(k);
        if (stack.length === 1) pendingKey = k;
        pos = after + 1;
        continue;
      }
      valueStarts(pos);
      pos = end + 1;
      valueEnds(pos);
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      valueStarts(pos);
      const isItems = c === 0x5b && stack.length === 1 && pendingKey === key;
      stack.push(c === 0x7b ? new Set() : null);
      if (isItems) {
        if (ranges) return null;
        ranges = [];
        itemsDepth = stack.length;
      }
      pendingKey = undefined;
      pos++;
      continue;
    }
    if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      if (stack.length === itemsDepth && c === 0x5d) itemsDepth = -2; // the items array closed
      stack.pop();
      pos++;
      valueEnds(pos);
      continue;
    }
    // Number, true, false, null.
    valueStarts(pos);
    while (pos < n) {
      const d = bytes[pos]!;
      if (d === 0x2c || d === 0x5d || d === 0x7d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break;
      pos++;
    }
    valueEnds(pos);
    if (stack.length === 1) pendingKey = undefined;
  }
  return stack.length === 0 ? ranges : null;
}
