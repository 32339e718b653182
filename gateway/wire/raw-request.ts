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
 * A changed item whose changes are all replacements inside plain string values (masking's usual
 * case: a name in a tool result) is patched in place — only the replaced spans are written anew —
 * and only after checking that the located value decodes to the text the guard read, and the
 * patched value to the text the guard wrote.
 * Anything else serialises the item (or the body) afresh, as before.
 */
import { isAscii, isUtf8, transcode } from 'node:buffer';
import { hash } from 'node:crypto';
import type { JsonObject, JsonValue } from '../context.js';
import { deepFreeze, type PreviousTurns, type TurnRecord } from './previous-turns.js';

/** Top-level arrays whose items are reused: chat and Anthropic `messages`, Responses `input`. */
const ITEM_KEYS = ['messages', 'input'] as const;
type ItemKey = (typeof ITEM_KEYS)[number];

/** One replacement in a text: UTF-16 offsets into the text before, and what replaced them. */
export interface TextEdit {
  start: number;
  end: number;
  text: string;
}

/** How a plain string value changed: its text before, and the replacements (in order). */
export interface StringChange {
  before: string;
  edits: TextEdit[];
}

interface PlacedChange extends StringChange {
  /** Path inside the item: keys and indexes. */
  steps: Array<string | number>;
}

interface RawRequest {
  bytes: Buffer;
  key: ItemKey;
  /** The array and its items as parsed (identity checks). */
  array: JsonValue[];
  items: JsonValue[];
  /** Changed items: their in-place changes, or null when the item must be serialised afresh. */
  changed: Map<number, PlacedChange[] | null>;
  /** False once a change could not be placed in an item. */
  reusable: boolean;
  /** Byte range of each item; null when the bytes cannot be reused; undefined before the scan. */
  ranges?: Array<[number, number]> | null;
  /** SHA-256 of an item's bytes, by index, once computed (rawTextName). */
  digests?: Map<number, string>;
  /** Items taken, deep-frozen, from the conversation's previous turn (thawItems replaces them). */
  shared?: Set<number>;
  /** Items masking rewrote on the previous turn: thawed before masking (prepareItemsForMasking). */
  rewrittenBefore?: ReadonlySet<number>;
  /** Items masking writes into on this turn (reported by masking before it writes). */
  written?: Set<number>;
  /** Frozen copies of written items as the client sent them, kept for the next turn. */
  clear?: Map<number, JsonValue>;
  /** How many leading items are byte for byte those of the kept turn this one continues. */
  reusedItems?: number;
  /** That turn's patch plans, by item; and this turn's, shared with its kept record. */
  previousPlans?: ReadonlyMap<number, { key: string; plan: PatchPlan }>;
  plans?: Map<number, { key: string; plan: PatchPlan }>;
  /** Where this turn is kept once masked (rememberTurn), and the array's place in the bytes. */
  turn?: {
    store: PreviousTurns;
    partition: string;
    replaces: TurnRecord | undefined;
    open: number;
    close: number;
    keysBeforeItems: readonly string[];
    /** The top-level entries as parsed (the array's own as `[]`). */
    outside: Array<[string, JsonValue]>;
  };
  /** Top-level keys (other than the array's) masking writes into on this turn. */
  writtenTop?: Set<string>;
}

/** Where the previous turns of a caller's conversations are kept (see previous-turns.ts). */
export interface TurnScope {
  store: PreviousTurns;
  /** The caller's partition: its credential, so callers never share kept turns. */
  partition: string;
}

const raws = new WeakMap<JsonObject, RawRequest>();

/**
 * The text of a UTF-8 request body, as `bytes.toString('utf8')` gives it, but cheaper. V8 decodes
 * UTF-8 into a two-byte string one character at a time: ≈ 1.8 ms for 250 KB of source text with
 * a handful of non-ASCII characters, more than parsing it. ICU's converter (`transcode`) to
 * UTF-16 and a copy into the string take ≈ 0.3 ms. Used only for valid UTF-8, where both give
 * the same text; anything else (and a Node built without ICU) decodes the usual way, with
 * replacement characters.
 */
export function decodeUtf8(bytes: Buffer): string {
  if (bytes.length < TRANSCODE_MIN_BYTES || isAscii(bytes)) return bytes.toString('utf8');
  if (!isUtf8(bytes)) return bytes.toString('utf8');
  try {
    return transcode(bytes, 'utf8', 'utf16le').toString('utf16le');
  } catch {
    return bytes.toString('utf8');
  }
}

/** Below this the usual decoder is as fast (and the extra copy not worth it). */
const TRANSCODE_MIN_BYTES = 16 * 1024;

/**
 * Parses a JSON request body and remembers its bytes (rememberRawRequest): the same value as
 * `JSON.parse(decodeUtf8(bytes))`, and the same error when that throws.
 *
 * A long conversation is parsed item by item. Decoding it whole makes one string of the whole
 * body (twice its size in bytes once it holds a non-Latin-1 character), which V8 puts in fresh
 * memory every time: ≈ 170 page faults and 2–3 ms of CPU for 340 KB on the 2-core VM, several
 * times the cost of the parse itself. Piece by piece, the body outside the conversation array
 * (with that array left empty) and each item are decoded and parsed separately, in small strings.
 * Sound because the pieces are exactly the body: the item scan (itemLayout) requires valid UTF-8
 * and no duplicate or escaped key, every gap between items must be whitespace around one comma
 * (and only whitespace after `[` and before `]`), and every piece must parse as one JSON value —
 * so the body is valid JSON whose array holds exactly those items. Anything else parses whole.
 */
export function parseRequestBody(bytes: Buffer, turns?: TurnScope): JsonValue {
  const body = bytes.length >= PIECEWISE_MIN_BYTES ? parsePiecewise(bytes, turns) : undefined;
  if (body !== undefined) return body;
  const whole = JSON.parse(decodeUtf8(bytes)) as JsonValue;
  rememberRawRequest(whole, bytes);
  return whole;
}

/** Below this a body is parsed whole: its string is small, and one parse is cheaper than several. */
const PIECEWISE_MIN_BYTES = 32 * 1024;

/**
 * The body parsed piece by piece (see parseRequestBody); undefined when it must be parsed whole.
 * With `turns`, leading items whose bytes are those of the caller's previous turn of the same
 * conversation are taken from it (parsed and hashed then) and the scan resumes after them.
 */
function parsePiecewise(bytes: Buffer, turns?: TurnScope): JsonObject | undefined {
  // The array rememberRawRequest would pick: `messages` when it is an array, else `input`.
  let key: ItemKey | undefined;
  let layout: ItemLayout | null = null;
  let previous: { record: TurnRecord; count: number } | undefined;
  for (const k of ITEM_KEYS) {
    previous = turns?.store.match(turns.partition, bytes, k);
    layout = previous ? itemLayout(bytes, k, previous.record, previous.count) : null;
    // A resumed scan that fails is tried again from the start: it only skips what is known.
    if (!layout) {
      previous = undefined;
      layout = itemLayout(bytes, k);
    }
    if (layout) {
      key = k;
      break;
    }
  }
  if (!layout || !key || layout.ranges.length === 0) return undefined;
  const { open, close, ranges } = layout;
  if (!onlySpace(bytes, open + 1, ranges[0]![0]) || !onlySpace(bytes, ranges[ranges.length - 1]![1], close)) return undefined;
  for (let i = 1; i < ranges.length; i++) if (!oneComma(bytes, ranges[i - 1]![1], ranges[i]![0])) return undefined;
  try {
    const kept = previous?.record;
    // The body outside the array (tools, model, caps...) is usually resent unchanged too: taken
    // from the kept turn when its bytes are the same (the part before the array is, since the
    // first items are; the resumed scan compared the part after it), else parsed.
    const keptOutside = kept?.outside && layout.keptTail ? kept.outside : undefined;
    const outside = keptOutside ? Object.fromEntries(keptOutside) as JsonValue : JSON.parse(`${bytes.toString('utf8', 0, open + 1)}${bytes.toString('utf8', close)}`) as JsonValue;
    if (typeof outside !== 'object' || outside === null || Array.isArray(outside)) return undefined;
    const placeholder = outside[key];
    if (!Array.isArray(placeholder) || placeholder.length !== 0) return undefined;
    const items: JsonValue[] = new Array(ranges.length);
    const reused = previous?.count ?? 0;
    let shared: Set<number> | undefined;
    let digests: Map<number, string> | undefined;
    for (let i = 0; i < ranges.length; i++) {
      const known = i < reused ? kept!.items[i] : undefined;
      if (known !== undefined) {
        items[i] = known;
        (shared ??= new Set()).add(i);
      } else items[i] = JSON.parse(decodeUtf8(bytes.subarray(ranges[i]![0], ranges[i]![1]))) as JsonValue;
      const digest = i < reused ? kept!.digests.get(i) : undefined;
      if (digest !== undefined) (digests ??= new Map()).set(i, digest);
    }
    // Same key, same place among the body's keys: assigning an existing property keeps its order.
    outside[key] = items;
    const raw: RawRequest = { bytes, key, array: items, items: [...items], changed: new Map(), reusable: true, ranges };
    if (shared) raw.shared = shared;
    if (kept && kept.rewritten.size > 0) raw.rewrittenBefore = kept.rewritten;
    if (kept) {
      raw.reusedItems = reused;
      raw.previousPlans = kept.plans as ReadonlyMap<number, { key: string; plan: PatchPlan }>;
    }
    if (digests) raw.digests = digests;
    if (turns) {
      raw.plans = new Map();
      // The top-level values as parsed (or taken), before any stage replaces one.
      const entries: Array<[string, JsonValue]> = [];
      for (const k of Object.keys(outside)) entries.push([k, k === key ? [] : outside[k]!]);
      raw.turn = { store: turns.store, partition: turns.partition, replaces: kept, open: layout.open, close, keysBeforeItems: layout.keysBeforeItems, outside: entries };
    }
    raws.set(outside, raw);
    return outside;
  } catch {
    // Parsed whole, which throws the error a client should see (or finds what this missed).
    return undefined;
  }
}

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Whether bytes [from, to) are JSON whitespace only. */
function onlySpace(bytes: Buffer, from: number, to: number): boolean {
  if (from > to) return false;
  for (let i = from; i < to; i++) if (!isSpace(bytes[i])) return false;
  return true;
}

/** Whether bytes [from, to) are one comma with JSON whitespace around it. */
function oneComma(bytes: Buffer, from: number, to: number): boolean {
  let i = from;
  while (i < to && isSpace(bytes[i])) i++;
  if (i >= to || bytes[i] !== 0x2c) return false;
  return onlySpace(bytes, i + 1, to);
}

/** Remembers the bytes `body` was parsed from (the server calls this for every JSON request). */
export function rememberRawRequest(body: JsonValue, bytes: Buffer): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  for (const key of ITEM_KEYS) {
    const array = body[key];
    if (Array.isArray(array)) {
      if (array.length > 0) raws.set(body, { bytes, key, array, items: [...array], changed: new Map(), reusable: true });
      return;
    }
  }
}

/**
 * Reports that the text at wire-map `path` (`messages[3].content`, `input[0].output`, `tools[1]…`)
 * was rewritten. Top-level fields other than the item array are always serialised afresh.
 */
export function markChanged(body: JsonObject, path: string, change?: StringChange): void {
  const raw = raws.get(body);
  if (!raw || !path.startsWith(raw.key)) return;
  const rest = path.slice(raw.key.length);
  if (rest === '' || rest.startsWith('.')) {
    // The array key itself, or a field of the same name that is not the array: no reuse.
    raw.reusable = false;
    return;
  }
  const m = /^\[(\d+)\]/.exec(rest);
  if (m) {
    const index = Number(m[1]);
    const steps = change ? pathSteps(rest.slice(m[0].length)) : undefined;
    const known = raw.changed.get(index);
    if (!change || !steps || known === null) raw.changed.set(index, null);
    else if (known) known.push({ ...change, steps });
    else raw.changed.set(index, [{ ...change, steps }]);
  }
  else if (/^[A-Za-z0-9_]/.test(rest) === false) raw.reusable = false;
  // Otherwise another top-level key that merely starts with the same letters (`inputs`): not ours.
}

/**
 * The upstream payload of `body` (with `model` replaced when given), reusing unchanged items' bytes.
 *
 * Built as a list of pieces copied once into the payload: a run of unchanged items whose bytes are
 * separated by exactly one comma is one slice of the client's bytes (the same bytes as the items
 * and commas written one by one), and the JSON of a frozen top-level value (the tools, resent
 * every turn) is encoded once and kept. Only the text between those pieces is encoded per request.
 */
export function requestPayload(body: JsonObject, model?: string): Buffer {
  const value = model !== undefined ? { ...body, model } : body;
  const raw = raws.get(body);
  if (!raw || !raw.reusable || value[raw.key] !== raw.array || raw.array.length !== raw.items.length) return Buffer.from(JSON.stringify(value));
  if (raw.ranges === undefined) raw.ranges = itemRanges(raw.bytes, raw.key);
  const ranges = raw.ranges;
  if (!ranges || ranges.length !== raw.items.length) return Buffer.from(JSON.stringify(value));

  const bytes = raw.bytes;
  const out = new PayloadParts('{');
  let first = true;
  for (const k of Object.keys(value)) {
    const v = value[k];
    if (v === undefined) continue;
    out.text += `${first ? '' : ','}${JSON.stringify(k)}:`;
    first = false;
    if (k !== raw.key) {
      const kept = frozenBytes(v);
      if (kept) out.push(kept);
      else out.text += JSON.stringify(v);
      continue;
    }
    out.text += '[';
    // Unchanged items not yet pushed: one range of the client's bytes.
    let runStart = -1;
    let runEnd = -1;
    for (let i = 0; i < raw.array.length; i++) {
      const item = raw.array[i];
      const changes = raw.changed.get(i);
      const [start, end] = ranges[i]!;
      if (item === raw.items[i] && changes === undefined) {
        // Joined to the run when only a comma lies between: the same bytes as item, comma, item.
        if (runEnd >= 0 && start === runEnd + 1 && bytes[runEnd] === COMMA) {
          runEnd = end;
          continue;
        }
        if (runEnd >= 0) out.push(bytes.subarray(runStart, runEnd));
        if (i > 0) out.text += ',';
        runStart = start;
        runEnd = end;
        continue;
      }
      if (runEnd >= 0) out.push(bytes.subarray(runStart, runEnd));
      runEnd = -1;
      if (i > 0) out.text += ',';
      const plan = item !== raw.items[i] || !changes ? undefined : patchedPlan(raw, i, item, changes);
      if (plan) out.pushPlan(bytes, plan);
      else out.text += item === undefined ? 'null' : JSON.stringify(item);
    }
    if (runEnd >= 0) out.push(bytes.subarray(runStart, runEnd));
    out.text += ']';
  }
  out.text += '}';
  return out.concat();
}

/** The pieces of a payload in order: buffers, and the text written since the last one. */
class PayloadParts {
  private readonly parts: Buffer[] = [];
  private length = 0;
  constructor(public text: string) {}

  push(piece: Buffer): void {
    this.flushText();
    this.parts.push(piece);
    this.length += piece.length;
  }

  /** A patched item: ranges of the client's bytes and the replacement bytes between them. */
  pushPlan(bytes: Buffer, plan: PatchPlan): void {
    for (let k = 0; k < plan.length; ) {
      const p = plan[k]!;
      if (typeof p === 'number') {
        this.push(bytes.subarray(p, plan[k + 1] as number));
        k += 2;
      } else {
        this.push(p);
        k++;
      }
    }
  }

  concat(): Buffer {
    this.flushText();
    return Buffer.concat(this.parts, this.length);
  }

  private flushText(): void {
    if (this.text === '') return;
    const encoded = Buffer.from(this.text);
    this.parts.push(encoded);
    this.length += encoded.length;
    this.text = '';
  }
}

const COMMA = 0x2c;

/**
 * A name for the plain string value at wire-map `path` (a text inside an item of the
 * conversation array) drawn from the client's bytes: the SHA-256 of the item's bytes and the
 * path inside the item; undefined when the bytes cannot stand for the item. The detection memo
 * keys texts on it instead of hashing each text: the same item bytes always parse to the same
 * item, so the same name always means the same text, and hashing bytes skips re-encoding the
 * (usually two-byte) strings to UTF-8, about half the cost of hashing them. Each item is
 * hashed once per request. Same conditions as reuse: the body's bytes are sound (valid UTF-8, no
 * duplicate or escaped key), the item is the one parsed, nothing was reported changed in it, the
 * path is made of plain keys and indexes only (so it names one value), and the value there is `text`.
 */
export function rawTextName(body: JsonObject, path: string, text: string): string | undefined {
  const raw = raws.get(body);
  const at = raw?.reusable ? itemPath(raw, path) : undefined;
  if (!raw || !at) return undefined;
  const { index, rest } = at;
  if (body[raw.key] !== raw.array || raw.array.length !== raw.items.length || raw.array[index] !== raw.items[index] || raw.changed.has(index)) return undefined;
  const steps = pathSteps(rest);
  // The value there must be this very text (a path that names another value would name the wrong text).
  if (!steps || valueAt(raw.array[index], steps) !== text) return undefined;
  if (raw.ranges === undefined) raw.ranges = itemRanges(raw.bytes, raw.key);
  const range = raw.ranges?.[index];
  if (!range || raw.ranges!.length !== raw.items.length) return undefined;
  let digest = (raw.digests ??= new Map()).get(index);
  if (digest === undefined) raw.digests.set(index, (digest = hash('sha256', raw.bytes.subarray(range[0], range[1]), 'base64')));
  return `${digest}${rest}`;
}

/**
 * Keeps this request for the conversation's next turn (previous-turns.ts), once masking is done.
 * An item is kept as a value only if it is known to hold exactly what its bytes say: the object
 * parsed, with no write reported (masking reports every item it writes into before writing, and
 * every text it rewrote); or, for an item masking wrote into, the frozen copy taken before the
 * write (readyToWrite) or the kept value it was thawed from. The next turn's detection reads
 * kept values as the client's text, so a kept value that was not would let that text through.
 */
export function rememberTurn(body: JsonObject): void {
  const raw = raws.get(body);
  const turn = raw?.turn;
  if (!raw || !turn || !raw.reusable || body[raw.key] !== raw.array || raw.array.length !== raw.items.length) return;
  const ranges = raw.ranges;
  if (!ranges || ranges.length !== raw.items.length) return;
  const items: Array<JsonValue | undefined> = new Array(ranges.length);
  const rewritten = new Set<number>();
  for (let i = 0; i < ranges.length; i++) {
    const item = raw.array[i];
    const untouched = item === raw.items[i] && !raw.changed.has(i) && !raw.written?.has(i);
    if (!untouched) rewritten.add(i);
    items[i] = untouched ? deepFreeze(item) : raw.clear?.get(i);
  }
  // The payload is built after this (forward): its patch plans land in the record's map then.
  const plans = (raw.plans ??= new Map());
  // The values outside the array are kept whole or not at all: not once masking wrote into one.
  const outside = raw.writtenTop?.size ? undefined : turn.outside.map(([k, v]) => [k, deepFreeze(v)] as [string, JsonValue]);
  turn.store.remember(turn.partition, { bytes: raw.bytes, key: raw.key, open: turn.open, close: turn.close, keysBeforeItems: turn.keysBeforeItems, ranges, items, outside, digests: new Map(raw.digests ?? []), rewritten, plans }, turn.replaces);
  // Kept once: a second call (a retried stage) would only keep the same turn again.
  raw.turn = undefined;
}

/** The item a wire-map path is in (`messages[3]…` → 3, with the rest of the path); undefined outside the items. */
function itemPath(raw: RawRequest, path: string): { index: number; rest: string } | undefined {
  if (!path.startsWith(raw.key)) return undefined;
  const m = /^\[(\d+)\]/.exec(path.slice(raw.key.length));
  return m ? { index: Number(m[1]), rest: path.slice(raw.key.length + m[0].length) } : undefined;
}

/** Whether item `i` is still the frozen value taken from a kept turn. */
function isKeptItem(raw: RawRequest, i: number): boolean {
  return raw.shared?.has(i) === true && raw.array[i] === raw.items[i];
}

/**
 * Replaces frozen items taken from a kept turn with copies of their objects and arrays (strings
 * are immutable and stay shared), so masking can write into them; the frozen originals are kept
 * as the clear values for the next turn.
 */
function thawItems(raw: RawRequest, indexes: Iterable<number>): void {
  for (const i of indexes) {
    const frozen = raw.array[i]!;
    const copy = copyContainers(frozen);
    raw.array[i] = copy;
    raw.items[i] = copy;
    raw.shared!.delete(i);
    (raw.clear ??= new Map()).set(i, frozen);
  }
}

/**
 * Before masking: thaws the kept items masking rewrote on the previous turn (it will again, most
 * likely), so it need not stop and start over when it finds them frozen.
 */
export function prepareItemsForMasking(body: JsonObject): void {
  const raw = raws.get(body);
  if (!raw?.shared || !raw.rewrittenBefore) return;
  thawItems(raw, [...raw.rewrittenBefore].filter((i) => isKeptItem(raw, i)));
}

/**
 * Called by masking with the paths of every text it is about to rewrite, before it writes
 * anything. A frozen value taken from a kept turn (an item, or a top-level value such as `tools`)
 * is replaced by a copy of its objects and arrays, and false is returned: masking's slots point
 * into the frozen value, so it must collect them again. Otherwise the written items and
 * top-level keys are recorded (this turn keeps no top-level value once one was written) and, when
 * this turn will be kept, a frozen copy of each written item as the client sent it; true is
 * returned and masking writes.
 */
export function readyToWrite(body: JsonObject, paths: Iterable<string>): boolean {
  const raw = raws.get(body);
  const items = new Set<number>();
  const topLevel = new Set<string>();
  for (const path of paths) {
    const at = raw && itemPath(raw, path);
    if (at) items.add(at.index);
    else {
      const k = /^[A-Za-z_][A-Za-z0-9_]*/.exec(path)?.[0];
      if (k !== undefined && k !== raw?.key) topLevel.add(k);
    }
  }
  let thawed = false;
  if (raw) {
    const frozen = [...items].filter((i) => isKeptItem(raw, i));
    thawItems(raw, frozen);
    thawed = frozen.length > 0;
  }
  for (const k of topLevel) {
    if (raw) (raw.writtenTop ??= new Set()).add(k);
    const v = body[k];
    if (typeof v === 'object' && v !== null && Object.isFrozen(v)) {
      body[k] = copyContainers(v);
      thawed = true;
    }
  }
  if (thawed) return false;
  if (!raw) return true;
  for (const i of items) {
    (raw.written ??= new Set()).add(i);
    if (!raw.turn || raw.clear?.has(i) || raw.array[i] !== raw.items[i]) continue;
    (raw.clear ??= new Map()).set(i, deepFreeze(copyContainers(raw.array[i]!)));
  }
  return true;
}

/** Whether the bytes after the array (from its `]`) are those of the kept turn. */
function sameTail(bytes: Buffer, close: number, kept: TurnRecord): boolean {
  const length = bytes.length - close;
  return length === kept.bytes.length - kept.close && bytes.compare(kept.bytes, kept.close, kept.bytes.length, close, bytes.length) === 0;
}

/**
 * JSON of a frozen object or array, encoded once (kept top-level values never change, so their
 * bytes are kept too); undefined for anything else, which is serialised per request.
 */
const frozenEncoded = new WeakMap<object, Buffer>();
function frozenBytes(v: JsonValue): Buffer | undefined {
  if (typeof v !== 'object' || v === null || !Object.isFrozen(v)) return undefined;
  let encoded = frozenEncoded.get(v);
  if (encoded === undefined) frozenEncoded.set(v, (encoded = Buffer.from(JSON.stringify(v))));
  return encoded;
}

/** A copy of every object and array in a JSON value (strings, being immutable, are shared). */
function copyContainers<T extends JsonValue>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  let out: JsonObject | JsonValue[];
  if (Array.isArray(value)) out = value.map((v) => copyContainers(v));
  else {
    out = {};
    for (const k of Object.keys(value)) out[k] = copyContainers(value[k]!);
  }
  if (Object.isFrozen(value)) thawedFrom.set(out, value);
  return out as T;
}

/** The frozen object each thawed copy was made from (copyContainers). */
const thawedFrom = new WeakMap<object, object>();

/**
 * A frozen object that holds `text` at `key` and stands for `holder`: the holder itself when it
 * is frozen, or the frozen object a thawed holder was copied from while the copy still holds the
 * very same string there (nothing written yet). Detection results kept on it (the memo's held
 * texts) then serve the copy too: a message rewritten on every turn is thawed on every turn.
 */
export function frozenHolderOf(holder: object, key: string | number, text: string): object | undefined {
  if (Object.isFrozen(holder)) return holder;
  const origin = thawedFrom.get(holder);
  return origin !== undefined && (origin as Record<string | number, unknown>)[key] === text ? origin : undefined;
}

/** `.content[0].text` → ['content', 0, 'text']; undefined for anything else. */
function pathSteps(rest: string): Array<string | number> | undefined {
  const steps: Array<string | number> = [];
  const step = /\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]/y;
  let m: RegExpExecArray | null;
  while (step.lastIndex < rest.length && (m = step.exec(rest))) steps.push(m[1] !== undefined ? m[1] : Number(m[2]));
  return step.lastIndex === rest.length && steps.length > 0 ? steps : undefined;
}

function skipSpace(bytes: Buffer, pos: number): number {
  let c = bytes[pos];
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = bytes[++pos];
  return pos;
}

/** End (exclusive) of the string whose opening quote is at `pos`; -1 if unterminated. */
function stringEnd(bytes: Buffer, pos: number): number {
  let end = pos + 1;
  for (;;) {
    end = bytes.indexOf(QUOTE, end);
    if (end < 0) return -1;
    let backslashes = 0;
    while (bytes[end - 1 - backslashes] === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return end + 1;
    end++;
  }
}

/** End (exclusive) of the JSON value starting at `pos` (already known to be valid JSON). */
function valueEnd(bytes: Buffer, pos: number): number {
  const c = bytes[pos];
  if (c === QUOTE) return stringEnd(bytes, pos);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    while (pos < bytes.length) {
      const d = bytes[pos]!;
      if (d === QUOTE) {
        pos = stringEnd(bytes, pos);
        if (pos < 0) return -1;
        continue;
      }
      if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return pos + 1;
      }
      pos++;
    }
    return -1;
  }
  while (pos < bytes.length) {
    const d = bytes[pos]!;
    if (d === 0x2c || d === 0x5d || d === 0x7d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break;
    pos++;
  }
  return pos;
}

/** Byte range of the value at `steps` inside the value starting at `pos`; undefined if not found. */
function locate(bytes: Buffer, pos: number, steps: ReadonlyArray<string | number>): [number, number] | undefined {
  for (const step of steps) {
    const open = bytes[pos];
    if (typeof step === 'number' ? open !== 0x5b : open !== 0x7b) return undefined;
    pos = skipSpace(bytes, pos + 1);
    let found = false;
    for (let index = 0; bytes[pos] !== 0x7d && bytes[pos] !== 0x5d; index++) {
      if (typeof step === 'string') {
        const keyEnd = stringEnd(bytes, pos);
        if (keyEnd < 0) return undefined;
        const key = bytes.toString('latin1', pos + 1, keyEnd - 1);
        pos = skipSpace(bytes, skipSpace(bytes, keyEnd) + 1); // past the colon
        if (key === step) {
          found = true;
          break;
        }
      } else if (index === step) {
        found = true;
        break;
      }
      pos = valueEnd(bytes, pos);
      if (pos < 0) return undefined;
      pos = skipSpace(bytes, pos);
      if (bytes[pos] === 0x2c) pos = skipSpace(bytes, pos + 1);
    }
    if (!found) return undefined;
  }
  const end = valueEnd(bytes, pos);
  return end < 0 ? undefined : [pos, end];
}

/** Byte offsets, inside the string literal starting at `quote`, of the UTF-16 offsets `at` (ascending). */
function byteOffsets(bytes: Buffer, quote: number, at: readonly number[]): number[] | undefined {
  const out: number[] = [];
  let b = quote + 1;
  let u = 0;
  for (const target of at) {
    while (u < target) {
      const c = bytes[b]!;
      if (c === QUOTE) return undefined;
      if (c === BACKSLASH) b += bytes[b + 1] === 0x75 /* u */ ? 6 : 2;
      else b += c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
      u += c >= 0xf0 && c !== BACKSLASH ? 2 : 1;
    }
    if (u !== target) return undefined; // inside a surrogate pair
    out.push(b);
  }
  return out;
}

/**
 * Whether `edits` (ordered, not overlapping) turn a text of `before`'s length into one of
 * `after`'s. Lengths only: reading `after` would flatten it, the cost this module avoids.
 */
function editsMake(change: StringChange, after: string): boolean {
  let shift = 0;
  let last = 0;
  for (const e of change.edits) {
    if (e.start < last || e.end < e.start || e.end > change.before.length) return false;
    shift += e.text.length - (e.end - e.start);
    last = e.end;
  }
  return change.before.length + shift === after.length;
}

/** The value at `steps` of a parsed item. */
function valueAt(item: JsonValue | undefined, steps: ReadonlyArray<string | number>): JsonValue | undefined {
  let v = item;
  for (const step of steps) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<string | number, JsonValue>)[step];
  }
  return v;
}

/**
 * How to make the item's bytes with each changed string patched where its spans were replaced; undefined
 * when any change cannot be placed or checked (the caller then serialises the item). Checked
 * without decoding whole texts: every byte range cut out decodes to exactly the value the guard
 * replaced, and the edits account for the length of the text the body now holds.
 */
function patchPlan(bytes: Buffer, range: readonly [number, number], item: JsonValue | undefined, changes: readonly PlacedChange[]): PatchPlan | undefined {
  const pieces: Array<{ start: number; end: number; text: string }> = [];
  for (const change of changes) {
    const at = locate(bytes, range[0], change.steps);
    const after = valueAt(item, change.steps);
    if (!at || at[1] > range[1] || bytes[at[0]] !== QUOTE || typeof after !== 'string' || !editsMake(change, after)) return undefined;
    const offsets = byteOffsets(bytes, at[0], change.edits.flatMap((e) => [e.start, e.end]));
    if (!offsets) return undefined;
    for (let k = 0; k < change.edits.length; k++) {
      const e = change.edits[k]!;
      const start = offsets[2 * k]!;
      const end = offsets[2 * k + 1]!;
      if (JSON.parse(`"${bytes.toString('utf8', start, end)}"`) !== change.before.slice(e.start, e.end)) return undefined;
      pieces.push({ start, end, text: JSON.stringify(e.text).slice(1, -1) });
    }
  }
  pieces.sort((a, b) => a.start - b.start);
  const plan: PatchPlan = [];
  let pos = range[0];
  for (const p of pieces) {
    if (p.start < pos) return undefined;
    plan.push(pos, p.start, Buffer.from(p.text));
    pos = p.end;
  }
  plan.push(pos, range[1]);
  return plan;
}

/**
 * How a patched item is made: byte ranges of the client's bytes (two numbers each) and the
 * replacement bytes between them. Holds pseudonyms and offsets only, so the plan of an item can
 * be kept for the next turn, which resends the same bytes with the same replacements.
 */
type PatchPlan = Array<number | Buffer>;

/** A patch plan's key: everything it depends on besides the item's bytes. */
function changesKey(changes: readonly PlacedChange[]): string {
  let key = '';
  for (const c of changes) {
    key += `${c.steps.join('\u0001')}\u0002${c.before.length}`;
    for (const e of c.edits) key += `\u0002${e.start}\u0003${e.end}\u0003${e.text}`;
    key += '\u0004';
  }
  return key;
}

/**
 * How to patch the item: the plan the previous turn made for the same bytes and the same
 * changes when there is one (the check that placed the changes then holds now), else made now.
 */
function patchedPlan(raw: RawRequest, i: number, item: JsonValue | undefined, changes: readonly PlacedChange[]): PatchPlan | undefined {
  const range = raw.ranges![i]!;
  const key = changesKey(changes);
  const known = i < (raw.reusedItems ?? 0) ? raw.previousPlans?.get(i) : undefined;
  let plan = known && known.key === key ? known.plan : undefined;
  if (!plan) {
    try {
      plan = patchPlan(raw.bytes, range, item, changes);
    } catch {
      plan = undefined;
    }
    if (!plan) return undefined;
  }
  raw.plans?.set(i, { key, plan });
  return plan;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Byte ranges of the items of the top-level array `key`, from one pass over the structure
 * (string contents are skipped with indexOf). Null when the bytes cannot stand for the parsed
 * body: invalid UTF-8, a duplicate key in any object, or an escaped key.
 */
export function itemRanges(bytes: Buffer, key: ItemKey): Array<[number, number]> | null {
  return itemLayout(bytes, key)?.ranges ?? null;
}

/** Where the top-level array `key` sits in the bytes: its brackets and its items' byte ranges. */
interface ItemLayout {
  /** Offset of the array's `[` and of its `]`. */
  open: number;
  close: number;
  ranges: Array<[number, number]>;
  /** The top-level keys seen up to the array's `[`, the array's own key included. */
  keysBeforeItems: readonly string[];
  /** Resumed from a kept turn whose bytes from its `]` on are these (`sameTail`), found where the scan stopped. */
  keptTail?: true;
}

/**
 * itemRanges, with the array's brackets; null on the same conditions. With `from` (a kept turn
 * whose first `count` items are these bytes' first items, byte for byte), the scan starts after
 * those items, in the state the scan of the same bytes had there: the top-level keys seen so far,
 * inside the array, the items' ranges.
 */
function itemLayout(bytes: Buffer, key: ItemKey, from?: TurnRecord, count = 0): ItemLayout | null {
  if (!isUtf8(bytes)) return null;
  let open = -1;
  let close = -1;
  // Per open container: its key set (objects) or null (arrays).
  const stack: Array<Set<string> | null> = [];
  let itemsDepth = -1;
  let itemStart = -1;
  let ranges: Array<[number, number]> | null = null;
  let keysBeforeItems: readonly string[] = [];
  let pendingKey: string | undefined;
  const n = bytes.length;
  let pos = 0;
  if (from) {
    if (from.key !== key || count <= 0 || count > from.ranges.length) return null;
    open = from.open;
    keysBeforeItems = from.keysBeforeItems;
    stack.push(new Set(keysBeforeItems), null);
    itemsDepth = stack.length;
    ranges = from.ranges.slice(0, count).map(([a, b]) => [a, b] as [number, number]);
    pos = ranges[count - 1]![1];
  }
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
        open = pos;
        keysBeforeItems = [...stack[0]!];
      }
      pendingKey = undefined;
      pos++;
      continue;
    }
    if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      if (stack.length === itemsDepth && c === 0x5d) {
        itemsDepth = -2; // the items array closed
        close = pos;
        // Resumed from a kept turn whose bytes from its `]` on are these: its scan went over the
        // same bytes from the same state (the bytes before the first items are the same, so the
        // same keys came before the array) and found them sound, so this scan would too. The
        // tools Goose resends every turn are most of that tail.
        if (from && sameTail(bytes, pos, from)) return { open, close, ranges: ranges!, keysBeforeItems, keptTail: true };
      }
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
  return stack.length === 0 && ranges && close > open ? { open, close, ranges, keysBeforeItems } : null;
}
