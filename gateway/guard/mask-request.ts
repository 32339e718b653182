/**
 * Request masking: finds every text a request carries through the wire map of its format
 * (gateway/wire/<format>/request.ts — the same map re-identification walks on the way back),
 * runs the detector on each, and replaces detected values with deterministic pseudonyms.
 * Tool-call arguments are JSON inside a string: they are parsed, their string leaves (and long
 * integers, which can be phone or card numbers) masked, and re-serialised so the JSON stays
 * valid. A masked number becomes a string pseudonym; when the tool's schema types it as a
 * number and the tool is `strict`, the request is refused instead (a string would break it).
 * Schemas (tool parameters, response formats) are masked in their prose only.
 *
 * Two passes: first collect texts and findings (so a block can answer before anything changes,
 * and realistic surrogates can be checked against every real value in the request), then write.
 * A value detected once is masked everywhere it occurs verbatim in the request, so a detector
 * miss elsewhere in the history cannot leak it.
 */
import type { JsonObject, JsonValue } from '../context.js';
import { wireMaps } from '../wire/index.js';
import { frozenHolderOf, markChanged, prepareItemsForMasking, rawTextName, readyToWrite, type TextEdit } from '../wire/raw-request.js';
import type { TextField, ToolSchema, WireFormatName } from '../wire/types.js';
import type { DetectionMemo, HeldTextEntry } from './detection-memo.js';
import type { GuardMode } from '../../policies/guard-policy.js';
import { createHmac, randomBytes } from 'node:crypto';
import type { DetectFn, DetectOptions, EntityClass, Finding } from './types.js';
import { normaliseValue, type Pseudonymizer } from './pseudonym.js';
import { realisticSurrogate } from './surrogate.js';
import { PseudonymMatcher } from './reidentify-stream.js';

export type PseudonymStyle = 'token' | 'realistic';

/** One pseudonym used in a request and the real value it stands for. */
export interface PseudonymEntry {
  pseudonym: string;
  class: EntityClass;
  value: string;
}

/** Which body shape to walk: a wire format. */
export type BodyKind = WireFormatName;

export interface MaskOptions {
  detect: DetectFn;
  detectOptions?: DetectOptions;
  /** Mode for a class; `off` findings are ignored. */
  modeFor(cls: EntityClass): GuardMode;
  styleFor?(cls: EntityClass): PseudonymStyle;
  pseudonymizer: Pseudonymizer;
  /** Findings of texts seen before (per tenant); omit to detect every text afresh. */
  memo?: DetectionMemo;
}

/** Where a blocked value sits: never the value itself. */
export interface BlockedFinding {
  class: EntityClass;
  /** e.g. `messages[2].content`, `messages[1].tool_calls[0].function.arguments.query` */
  path: string;
  messageIndex?: number;
  /** UTF-16 offsets within that text. */
  start: number;
  end: number;
  /** How many blocking findings the request had in total. */
  count: number;
}

export interface MaskResult {
  /** Masked occurrences per class. */
  redactions: Record<string, number>;
  /** Detect-only findings per class (recorded, not changed). */
  detections: Record<string, number>;
  blocked?: BlockedFinding;
  /** Pseudonyms used in this request (each once). */
  entries: PseudonymEntry[];
  /** True when the body was rewritten. */
  changed: boolean;
}

interface Span {
  start: number;
  end: number;
  cls: EntityClass;
}

interface TextSlot {
  text: string;
  path: string;
  messageIndex: number | undefined;
  set(masked: string): void;
  spans?: Span[];
  /** Set for a number in tool JSON: masking turns it into a string, which `strict` tools refuse. */
  numeric?: { refuseString: boolean };
  /** The text's key in the detection memo, when memoised. */
  memoKey?: string;
  /** Where a plain text is held (`holder[key]`): the memo finds a frozen (kept) holder's texts by identity. */
  holder?: object;
  key?: string | number;
  /** The memo's entry for a text held in a frozen object. */
  held?: HeldTextEntry;
  /** Taken from an earlier walk of the same frozen value (collectSlots), not walked now. */
  reused?: boolean;
  /** The text is a JSON string value of the body itself (not inside a JSON-in-a-string). */
  direct?: boolean;
  /** Replacements made, in order (UTF-16 offsets into `text`), for direct texts. */
  edits?: TextEdit[];
}

/** Masks one plain text (CLI, MCP). */
export function maskText(text: string, opts: MaskOptions): { masked: string; result: MaskResult } {
  let masked = text;
  const slots: TextSlot[] = [{ text, path: 'text', messageIndex: undefined, set: (s) => (masked = s) }];
  const result = maskSlots(slots, [], opts);
  return { masked, result };
}

/**
 * Masks a request body in place. Messages taken frozen from the conversation's previous turn
 * (wire/previous-turns.ts) are read as they are; if one of them needs a replacement (a value
 * found now that it also holds), it is swapped for a copy of its objects and arrays and the body
 * is masked again — cheap, since detection is memoised (wire/raw-request.ts `readyToWrite`).
 */
export function maskRequestBody(body: JsonObject, kind: BodyKind, opts: MaskOptions): MaskResult {
  const map = wireMaps[kind];
  prepareItemsForMasking(body);
  for (;;) {
    const slots: TextSlot[] = [];
    const commits: Array<() => void> = [];
    // Read before the walk, which may hide the tool definitions from the body while it runs.
    const schemas: Map<string, ToolSchema> = map.toolSchemas(body);
    const schemaOf = (tool: string | undefined) => (tool === undefined ? undefined : schemas.get(tool));
    collectSlots(body, kind, slots, (visit) => map.requestFields(body, visit), (f) => collectField(f, slots, commits, schemaOf));
    const result = maskSlots(slots, commits, opts, body, (written) => {
      const ready = readyToWrite(body, written.map((slot) => slot.path));
      // A reused slot belongs to a frozen value, which readyToWrite has just thawed (so the body
      // is walked again). Its setter is an earlier walk's: were it ever called, a write could be
      // lost and the text go out in clear, so that is refused outright.
      if (ready && written.some((slot) => slot.reused)) refuseReusedWrite();
      return ready;
    });
    if (!result) continue;
    // The upstream payload reuses the client's bytes for messages nothing changed: name the rest
    // (with the replacements of a plain text, so its own bytes can be patched in place).
    if (result.changed) {
      for (const slot of slots) if (slot.spans) markChanged(body, slot.path, slot.direct && slot.edits ? { before: slot.text, edits: slot.edits } : undefined);
    }
    return result;
  }
}

// ---- the walk, reused for frozen parts ------------------------------------------------------

/**
 * The top-level keys masking's walk treats as one unit each, and the conversation array whose
 * items are units of their own. Slots are ordered by unit (the body's key order, then item
 * index), so reused and walked slots interleave the same way on every turn.
 */
const ITEM_ARRAY_KEYS = ['messages', 'input'] as const;
const ITEM_RANK = 1 << 20;

/** A slot as the walk made it, before masking adds its per-request state. */
type SlotTemplate = Omit<TextSlot, 'spans' | 'memoKey' | 'held' | 'edits' | 'reused'>;

/** The slots of one frozen unit, and what they were walked under. */
interface WalkedUnit {
  kind: BodyKind;
  /** The top-level key, or the conversation array's key for an item. */
  key: string;
  index: number | undefined;
  /** Tool definitions type tool-call JSON (a number a strict tool types as numeric): same objects, same slots. */
  tools: JsonValue | undefined;
  functions: JsonValue | undefined;
  slots: readonly SlotTemplate[];
}

/**
 * Slots of frozen values — the messages and top-level values (tools, schemas) kept from the
 * conversation's previous turn (wire/previous-turns.ts) — by value. A frozen value's texts never
 * change, so the walk of it, ≈ 40 % of masking a long turn's resent history and most of its
 * allocations (a path string, a field and a slot object per text), is done once. Held weakly: an
 * entry goes with its kept turn. Slots hold the value's own strings, nothing else.
 */
const walkedUnits = new WeakMap<object, WalkedUnit>();

function refuseReusedWrite(): never {
  throw new Error('masking: a frozen value was about to be written through a reused slot');
}

function isFrozenObject(v: JsonValue | undefined): v is JsonObject | JsonValue[] {
  return typeof v === 'object' && v !== null && Object.isFrozen(v);
}

/** Rank of a top-level key's unit; its items (if it is the conversation array) rank just after it. */
function keyUnitRank(keyRank: ReadonlyMap<string, number>, key: string): number {
  return (keyRank.get(key) ?? keyRank.size) * ITEM_RANK * 2;
}

/** Rank of the unit a wire-map path is in (see ITEM_ARRAY_KEYS). */
function unitRank(path: string, keyRank: ReadonlyMap<string, number>, itemKey: string | undefined): number {
  let end = 0;
  while (end < path.length && path[end] !== '[' && path[end] !== '.') end++;
  const key = path.slice(0, end);
  const base = keyUnitRank(keyRank, key);
  if (key !== itemKey || path[end] !== '[') return base;
  const close = path.indexOf(']', end);
  return base + 1 + Number(path.slice(end + 1, close));
}

/**
 * Collects the slots of a request: frozen units walked on an earlier turn (same value, same index,
 * same format and tool definitions) from `walkedUnits`, the rest by walking the body with those
 * units hidden from the walk (an item set to null, which every wire map skips as a non-object;
 * a top-level value set to undefined; both restored before anything reads the body again).
 * Frozen units walked now are remembered for the next turn.
 */
function collectSlots(body: JsonObject, kind: BodyKind, slots: TextSlot[], walk: (visit: (f: TextField) => void) => void, visit: (f: TextField) => void): void {
  const keys = Object.keys(body);
  const keyRank = new Map<string, number>();
  keys.forEach((k, i) => keyRank.set(k, i));
  const itemKey = ITEM_ARRAY_KEYS.find((k) => Array.isArray(body[k]));
  const items = itemKey ? (body[itemKey] as JsonValue[]) : undefined;
  const tools = body['tools'];
  const functions = body['functions'];
  const reused: Array<{ rank: number; slots: readonly SlotTemplate[] }> = [];
  /** Frozen units walked now, by rank. */
  const fresh = new Map<number, { value: object; key: string; index: number | undefined }>();
  const usable = (unit: WalkedUnit | undefined, key: string, index: number | undefined) =>
    unit !== undefined && unit.kind === kind && unit.key === key && unit.index === index && unit.tools === tools && unit.functions === functions;

  let hiddenItems: JsonValue[] | undefined;
  if (items) {
    const base = keyUnitRank(keyRank, itemKey!) + 1;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (!isFrozenObject(item)) continue;
      const unit = walkedUnits.get(item);
      if (usable(unit, itemKey!, i)) {
        (hiddenItems ??= [...items])[i] = null;
        reused.push({ rank: base + i, slots: unit!.slots });
      } else fresh.set(base + i, { value: item, key: itemKey!, index: i });
    }
  }
  const hiddenKeys: string[] = [];
  for (const k of keys) {
    const v = body[k];
    if (k === itemKey || !isFrozenObject(v)) continue;
    const unit = walkedUnits.get(v);
    if (usable(unit, k, undefined)) {
      hiddenKeys.push(k);
      reused.push({ rank: keyUnitRank(keyRank, k), slots: unit!.slots });
    } else fresh.set(keyUnitRank(keyRank, k), { value: v, key: k, index: undefined });
  }

  const hiddenValues = hiddenKeys.map((k) => body[k]);
  try {
    // Assigning existing properties keeps the body's key order; the array itself is put back.
    if (hiddenItems) body[itemKey!] = hiddenItems;
    for (const k of hiddenKeys) body[k] = undefined as unknown as JsonValue;
    walk(visit);
  } finally {
    if (hiddenItems) body[itemKey!] = items!;
    hiddenKeys.forEach((k, i) => (body[k] = hiddenValues[i]!));
  }
  // Always in unit order, reused or not, so a turn masks the same with and without kept turns.
  const ranked = slots.map((slot) => ({ rank: unitRank(slot.path, keyRank, itemKey), slot }));
  // Remember the frozen units walked now (a unit with no text too: its walk is skipped next time).
  if (fresh.size > 0) {
    const byRank = new Map<number, SlotTemplate[]>();
    for (const r of ranked) {
      if (!fresh.has(r.rank)) continue;
      let list = byRank.get(r.rank);
      if (!list) byRank.set(r.rank, (list = []));
      // Kept without its setter: a reused slot is never written (see maskRequestBody), and the
      // setter would hold this request's objects (tool-call JSON, its commits) as long as the unit.
      list.push({ ...r.slot, set: refuseReusedWrite });
    }
    for (const [rank, unit] of fresh) walkedUnits.set(unit.value, { kind, key: unit.key, index: unit.index, tools, functions, slots: byRank.get(rank) ?? [] });
  }
  for (const r of reused) for (const t of r.slots) ranked.push({ rank: r.rank, slot: { ...t, reused: true } });
  ranked.sort((a, b) => a.rank - b.rank);
  slots.length = 0;
  for (const r of ranked) slots.push(r.slot);
}

/**
 * `body`: the request the slots came from, whose client bytes can key the memo (plain texts only).
 * `mayWrite` sees the slots about to be rewritten before anything is; false stops without writing
 * (undefined is returned).
 */
function maskSlots(slots: TextSlot[], commits: Array<() => void>, opts: MaskOptions, body?: JsonObject): MaskResult;
function maskSlots(slots: TextSlot[], commits: Array<() => void>, opts: MaskOptions, body: JsonObject, mayWrite: (written: TextSlot[]) => boolean): MaskResult | undefined;
function maskSlots(slots: TextSlot[], commits: Array<() => void>, opts: MaskOptions, body?: JsonObject, mayWrite?: (written: TextSlot[]) => boolean): MaskResult | undefined {
  const redactions: Record<string, number> = {};
  const detections: Record<string, number> = {};
  let blocked: BlockedFinding | undefined;
  let blockCount = 0;
  let anyMask = false;

  const memo = opts.memo;
  for (const slot of slots) {
    if (slot.text.length === 0) continue;
    let findings: readonly Finding[];
    if (memo) {
      const raw = body && slot.direct ? () => rawTextName(body, slot.path, slot.text) : undefined;
      const frozen = slot.holder !== undefined ? frozenHolderOf(slot.holder, slot.key!, slot.text) : undefined;
      const held = frozen !== undefined ? memo.heldText(frozen, slot.key!, slot.text, opts.detectOptions, opts.detect, raw) : undefined;
      if (held) {
        slot.held = held;
        findings = held.findings;
      } else {
        slot.memoKey = memo.keyOf(slot.text, opts.detectOptions, raw);
        findings = memo.findings(slot.text, opts.detectOptions, opts.detect, slot.memoKey);
      }
    } else findings = opts.detect(slot.text, opts.detectOptions);
    for (const f of findings) {
      const mode = opts.modeFor(f.class);
      if (mode === 'off') continue;
      if (mode === 'detect') {
        detections[f.class] = (detections[f.class] ?? 0) + 1;
      } else if (mode === 'block' || slot.numeric?.refuseString) {
        blockCount++;
        blocked ??= { class: f.class, path: slot.path, messageIndex: slot.messageIndex, start: f.start, end: f.end, count: 0 };
      } else {
        (slot.spans ??= []).push({ start: f.start, end: f.end, cls: f.class });
        anyMask = true;
      }
    }
  }
  if (blocked) {
    blocked.count = blockCount;
    return { redactions, detections, blocked, entries: [], changed: false };
  }
  if (!anyMask) return { redactions, detections, entries: [], changed: false };

  const assigner = new PseudonymAssigner(slots, opts);
  const values = assigner.collectValues();
  addVerbatimRepeats(slots, values, memo);
  // A verbatim repeat can land in a number a strict tool types as numeric: refuse rather than break it.
  for (const slot of slots) {
    if (slot.spans && slot.numeric?.refuseString) {
      const s = slot.spans[0]!;
      return { redactions, detections, blocked: { class: s.cls, path: slot.path, messageIndex: slot.messageIndex, start: s.start, end: s.end, count: 1 }, entries: [], changed: false };
    }
  }
  if (mayWrite && !mayWrite(slots.filter((slot) => slot.spans !== undefined))) return undefined;

  for (const slot of slots) {
    const spans = slot.spans;
    if (!spans) continue;
    let out = '';
    let pos = 0;
    const edits: TextEdit[] | undefined = slot.direct ? (slot.edits = []) : undefined;
    for (const s of spans) {
      const pseudonym = assigner.pseudonymFor(s.cls, slot.text.slice(s.start, s.end));
      out += slot.text.slice(pos, s.start) + pseudonym;
      edits?.push({ start: s.start, end: s.end, text: pseudonym });
      pos = s.end;
      redactions[s.cls] = (redactions[s.cls] ?? 0) + 1;
    }
    slot.set(out + slot.text.slice(pos));
  }
  for (const commit of commits) commit();
  return { redactions, detections, entries: assigner.entries(), changed: true };
}

/**
 * Every masked value (by surface form) is also masked where it occurs verbatim without having
 * been detected there (another message, a tool argument), so a partial detector miss cannot leak it.
 */
function addVerbatimRepeats(slots: TextSlot[], values: Map<string, EntityClass>, memo: DetectionMemo | undefined): void {
  // Very short values would also hit inside unrelated words; detection alone covers those.
  const candidates: Array<{ pseudonym: string; value: string }> = [];
  for (const [v, cls] of values) if (v.length >= 4) candidates.push({ pseudonym: v, value: cls });
  if (candidates.length === 0) return;
  const search = (text: string): Finding[] => findVerbatim(text, candidates);
  // The memo knows a text's occurrences of the same set of values from an earlier turn.
  const valuesKey = memo ? valuesFingerprint(candidates) : '';
  for (const slot of slots) {
    const key = slot.memoKey;
    const found = !memo ? search(slot.text)
      : slot.held ? memo.heldOccurrences(slot.held, valuesKey, () => search(slot.text))
      : key !== undefined ? memo.occurrences(key, valuesKey, () => search(slot.text)) : search(slot.text);
    let added: Span[] | undefined;
    for (const f of found) {
      if (!overlaps(slot.spans, f.start, f.end)) (added ??= []).push({ start: f.start, end: f.end, cls: f.class });
    }
    if (added) slot.spans = [...(slot.spans ?? []), ...added].sort((a, b) => a.start - b.start);
  }
}

/** Up to this many values, verbatim repeats are found with the engine's own `indexOf`. */
const NATIVE_SEARCH_MAX_VALUES = 24;

/**
 * Where a text holds any of `values` verbatim (`pseudonym` is the value, `value` its class):
 * leftmost-longest, without overlaps — at each position the longest value starting there, then
 * on after it. A few values are found with `String#indexOf` per value (native, several times
 * faster than walking a trie in JS over 10–30 KB of new text per turn) and the hits chosen the
 * same way; many values walk one trie of all of them, whose cost does not grow with their number.
 * Both give the same findings (property-tested).
 */
export function findVerbatim(text: string, values: ReadonlyArray<{ pseudonym: string; value: string }>): Finding[] {
  const found: Finding[] = [];
  if (values.length > NATIVE_SEARCH_MAX_VALUES) {
    // The matcher's "pseudonym → value" here is "real value → its class".
    new PseudonymMatcher(values, { wordBoundaries: false }).forEachMatch(text, (start, end, cls) => {
      found.push({ class: cls, start, end, score: 1, detector: 'verbatim' });
    });
    return found;
  }
  const hits: Array<{ start: number; end: number; cls: string }> = [];
  for (const { pseudonym: v, value: cls } of values) {
    if (v.length === 0) continue;
    for (let i = text.indexOf(v); i >= 0; i = text.indexOf(v, i + 1)) hits.push({ start: i, end: i + v.length, cls });
  }
  if (hits.length === 0) return found;
  hits.sort((a, b) => a.start - b.start || b.end - a.end);
  let pos = 0;
  for (const h of hits) {
    if (h.start < pos) continue;
    found.push({ class: h.cls, start: h.start, end: h.end, score: 1, detector: 'verbatim' });
    pos = h.end;
  }
  return found;
}

/** Keyed with a per-process secret, so a memo's keys cannot be tested against guessed values. */
const FINGERPRINT_KEY = randomBytes(32);

/** An HMAC of the values (and their classes) searched for verbatim; never the values themselves. */
function valuesFingerprint(candidates: ReadonlyArray<{ pseudonym: string; value: string }>): string {
  const h = createHmac('sha256', FINGERPRINT_KEY);
  for (const c of [...candidates].sort((a, b) => (a.pseudonym < b.pseudonym ? -1 : a.pseudonym > b.pseudonym ? 1 : 0))) h.update(`${c.value}\0${c.pseudonym}\0`);
  return h.digest('base64');
}

function overlaps(spans: readonly Span[] | undefined, start: number, end: number): boolean {
  if (!spans) return false;
  for (const s of spans) if (s.start < end && start < s.end) return true;
  return false;
}

/** Hands out one pseudonym per (class, normalised value) within a request, avoiding collisions. */
class PseudonymAssigner {
  readonly #byKey = new Map<string, PseudonymEntry>();
  readonly #byPseudonym = new Map<string, string>();
  readonly #realValues = new Set<string>();
  readonly #slots: readonly TextSlot[];
  readonly #opts: MaskOptions;

  constructor(slots: readonly TextSlot[], opts: MaskOptions) {
    this.#slots = slots;
    this.#opts = opts;
  }

  /** Surface forms of every value to mask, with their class. */
  collectValues(): Map<string, EntityClass> {
    const values = new Map<string, EntityClass>();
    for (const slot of this.#slots) {
      for (const s of slot.spans ?? []) {
        const v = slot.text.slice(s.start, s.end);
        this.#realValues.add(v);
        if (!values.has(v)) values.set(v, s.cls);
      }
    }
    return values;
  }

  pseudonymFor(cls: EntityClass, value: string): string {
    const normalised = normaliseValue(cls, value);
    const key = `${cls}\0${normalised}`;
    const known = this.#byKey.get(key);
    if (known) return known.pseudonym;
    const pz = this.#opts.pseudonymizer;
    const digest = pz.digest(cls, normalised);
    let pseudonym: string | undefined;
    if (this.#opts.styleFor?.(cls) === 'realistic') {
      for (let attempt = 0; attempt < 32 && pseudonym === undefined; attempt++) {
        const candidate = realisticSurrogate(cls, value, digest, attempt);
        if (candidate === undefined) break;
        if (this.#isFree(candidate)) pseudonym = candidate;
      }
    }
    if (pseudonym === undefined) {
      // Tokens only need to differ from this request's other pseudonyms (a real value cannot
      // look like CLASS_8HEX by accident, and if it is the token itself it maps to the same value).
      pseudonym = pz.token(cls, digest);
      if (this.#byPseudonym.has(pseudonym)) pseudonym = pz.token(cls, digest, true);
    }
    const entry: PseudonymEntry = { pseudonym, class: cls, value };
    this.#byKey.set(key, entry);
    this.#byPseudonym.set(pseudonym, key);
    return pseudonym;
  }

  entries(): PseudonymEntry[] {
    return [...this.#byKey.values()];
  }

  /** Not used by another value of this request, not a real value, not present in any request text. */
  #isFree(candidate: string): boolean {
    if (this.#byPseudonym.has(candidate) || this.#realValues.has(candidate)) return false;
    for (const p of this.#byPseudonym.keys()) {
      // A pseudonym that is a prefix of another would make restoring ambiguous.
      if (p.startsWith(candidate) || candidate.startsWith(p)) return false;
    }
    for (const slot of this.#slots) if (slot.text.includes(candidate)) return false;
    return true;
  }
}

// ---- fields of the wire map → slots -------------------------------------------------------

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

type SchemaOf = (tool: string | undefined) => ToolSchema | undefined;

function collectField(f: TextField, slots: TextSlot[], commits: Array<() => void>, schemaOf: SchemaOf): void {
  const holder = f.holder as Record<string | number, JsonValue>;
  const key = f.key;
  const value = holder[key];
  switch (f.kind) {
    case 'text':
      if (typeof value === 'string') slots.push({ text: value, path: f.path, messageIndex: f.messageIndex, set: (s) => (holder[key] = s), direct: true, holder, key });
      return;
    case 'json-string': {
      if (typeof value !== 'string') return;
      let parsed: JsonValue;
      try {
        parsed = JSON.parse(value) as JsonValue;
      } catch {
        // Not valid JSON (e.g. truncated): masked as plain text.
        slots.push({ text: value, path: f.path, messageIndex: f.messageIndex, set: (s) => (holder[key] = s) });
        return;
      }
      if (typeof parsed === 'string') {
        slots.push({ text: parsed, path: f.path, messageIndex: f.messageIndex, set: (s) => commits.push(() => (holder[key] = JSON.stringify(s))) });
        return;
      }
      let dirty = false;
      const tool = schemaOf(f.tool);
      jsonLeaves(parsed, f.path, f.messageIndex, slots, () => (dirty = true), tool, tool?.schema);
      commits.push(() => {
        if (dirty) holder[key] = JSON.stringify(parsed);
      });
      return;
    }
    case 'json': {
      if (typeof value !== 'object' || value === null) return;
      const tool = schemaOf(f.tool);
      jsonLeaves(value, f.path, f.messageIndex, slots, () => {}, tool, tool?.schema);
      return;
    }
    case 'schema':
      schemaText(value, f.path, f.messageIndex, slots);
      return;
  }
}

/** Integers this long can be phone, card or account numbers; shorter ones are counts and ids. */
const MIN_PII_DIGITS = 7;

/**
 * Every string leaf of a JSON value (keys are identifiers and stay), and every long integer
 * leaf as its decimal text. `schema` is the tool's JSON Schema at this point, when known.
 */
function jsonLeaves(
  value: JsonValue, path: string, messageIndex: number | undefined, slots: TextSlot[], onChange: () => void,
  tool: ToolSchema | undefined, schema: JsonValue | undefined,
): void {
  const visit = (holder: Record<string | number, JsonValue>, k: string | number, at: string, sub: JsonValue | undefined) => {
    const item = holder[k]!;
    if (typeof item === 'string') {
      slots.push({ text: item, path: at, messageIndex, set: (s) => ((holder[k] = s), onChange()) });
    } else if (typeof item === 'number') {
      if (!Number.isInteger(item) || Math.abs(item) < 10 ** (MIN_PII_DIGITS - 1)) return;
      const refuseString = tool?.strict === true && !schemaAllowsString(sub);
      slots.push({ text: String(item), path: at, messageIndex, set: (s) => ((holder[k] = s), onChange()), numeric: { refuseString } });
    } else if (item !== null && typeof item === 'object') {
      jsonLeaves(item, at, messageIndex, slots, onChange, tool, sub);
    }
  };
  if (Array.isArray(value)) {
    const items = isObject(schema) ? schema['items'] : undefined;
    for (let j = 0; j < value.length; j++) visit(value as Record<number, JsonValue>, j, `${path}[${j}]`, items);
  } else if (isObject(value)) {
    const props = isObject(schema) && isObject(schema['properties']) ? schema['properties'] : undefined;
    for (const k of Object.keys(value)) visit(value, k, `${path}.${k}`, props?.[k]);
  }
}

/** Whether a value of this schema may be a string (unknown or untyped: yes). */
function schemaAllowsString(schema: JsonValue | undefined): boolean {
  if (!isObject(schema)) return true;
  const type = schema['type'];
  if (typeof type === 'string') return type === 'string';
  if (Array.isArray(type)) return type.includes('string');
  for (const alt of ['anyOf', 'oneOf'] as const) {
    const list = schema[alt];
    if (Array.isArray(list)) return list.some((s) => schemaAllowsString(s));
  }
  return true;
}

/** Schema keys whose values are prose or sample data (masked); everything else is structure. */
const SCHEMA_TEXT_KEYS = new Set(['description', 'title', '$comment', 'examples', 'default', 'enum', 'const']);
/** Schema keys whose values map names (property names, definition names) to subschemas. */
const SCHEMA_MAP_KEYS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);

function schemaText(node: JsonValue | undefined, path: string, messageIndex: number | undefined, slots: TextSlot[]): void {
  if (Array.isArray(node)) {
    node.forEach((sub, j) => schemaText(sub, `${path}[${j}]`, messageIndex, slots));
    return;
  }
  if (!isObject(node)) return;
  for (const k of Object.keys(node)) {
    const v = node[k]!;
    if (SCHEMA_MAP_KEYS.has(k) && isObject(v)) {
      for (const name of Object.keys(v)) schemaText(v[name], `${path}.${k}.${name}`, messageIndex, slots);
    } else if (SCHEMA_TEXT_KEYS.has(k)) {
      if (typeof v === 'string') slots.push({ text: v, path: `${path}.${k}`, messageIndex, set: (s) => (node[k] = s), holder: node, key: k });
      else if (typeof v === 'object' && v !== null) stringLeaves(v, `${path}.${k}`, messageIndex, slots);
    } else if (typeof v === 'object' && v !== null) {
      schemaText(v, `${path}.${k}`, messageIndex, slots);
    }
  }
}

/** Every string leaf of a JSON value (schema sample data). */
function stringLeaves(value: JsonObject | JsonValue[], path: string, messageIndex: number | undefined, slots: TextSlot[]): void {
  const holder = value as Record<string | number, JsonValue>;
  const keys: Array<string | number> = Array.isArray(value) ? value.map((_, j) => j) : Object.keys(value);
  for (const k of keys) {
    const item = holder[k]!;
    const at = typeof k === 'number' ? `${path}[${k}]` : `${path}.${k}`;
    if (typeof item === 'string') slots.push({ text: item, path: at, messageIndex, set: (s) => (holder[k] = s) });
    else if (typeof item === 'object' && item !== null) stringLeaves(item, at, messageIndex, slots);
  }
}
