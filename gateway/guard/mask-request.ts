/**
 * Request masking: finds every text a request carries (OpenAI chat: system/user/assistant/tool
 * contents and parts, reasoning, tool-call arguments; Anthropic messages: system, text blocks,
 * tool_use input, tool_result content; embeddings input), runs the detector on each, and replaces
 * detected values with deterministic pseudonyms. Tool-call arguments are JSON inside a string:
 * they are parsed, their string values masked, and re-serialised so the JSON stays valid.
 *
 * Two passes: first collect texts and findings (so a block can answer before anything changes,
 * and realistic surrogates can be checked against every real value in the request), then write.
 * A value detected once is masked everywhere it occurs verbatim in the request, so a detector
 * miss elsewhere in the history cannot leak it.
 */
import type { JsonObject, JsonValue } from '../context.js';
import type { GuardMode } from '../../policies/guard-policy.js';
import type { DetectFn, DetectOptions, EntityClass } from './types.js';
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

/** Which body shape to walk. */
export type BodyKind = 'openai-chat' | 'anthropic-messages' | 'embeddings';

export interface MaskOptions {
  detect: DetectFn;
  detectOptions?: DetectOptions;
  /** Mode for a class; `off` findings are ignored. */
  modeFor(cls: EntityClass): GuardMode;
  styleFor?(cls: EntityClass): PseudonymStyle;
  pseudonymizer: Pseudonymizer;
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
}

/** Masks one plain text (CLI, MCP). */
export function maskText(text: string, opts: MaskOptions): { masked: string; result: MaskResult } {
  let masked = text;
  const slots: TextSlot[] = [{ text, path: 'text', messageIndex: undefined, set: (s) => (masked = s) }];
  const result = maskSlots(slots, [], opts);
  return { masked, result };
}

/** Masks a request body in place. */
export function maskRequestBody(body: JsonObject, kind: BodyKind, opts: MaskOptions): MaskResult {
  const slots: TextSlot[] = [];
  const commits: Array<() => void> = [];
  if (kind === 'openai-chat') collectOpenAiChat(body, slots, commits);
  else if (kind === 'anthropic-messages') collectAnthropic(body, slots);
  else collectEmbeddings(body, slots);
  return maskSlots(slots, commits, opts);
}

function maskSlots(slots: TextSlot[], commits: Array<() => void>, opts: MaskOptions): MaskResult {
  const redactions: Record<string, number> = {};
  const detections: Record<string, number> = {};
  let blocked: BlockedFinding | undefined;
  let blockCount = 0;
  let anyMask = false;

  for (const slot of slots) {
    if (slot.text.length === 0) continue;
    const findings = opts.detect(slot.text, opts.detectOptions);
    for (const f of findings) {
      const mode = opts.modeFor(f.class);
      if (mode === 'off') continue;
      if (mode === 'detect') {
        detections[f.class] = (detections[f.class] ?? 0) + 1;
      } else if (mode === 'block') {
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
  addVerbatimRepeats(slots, values);

  for (const slot of slots) {
    const spans = slot.spans;
    if (!spans) continue;
    let out = '';
    let pos = 0;
    for (const s of spans) {
      const pseudonym = assigner.pseudonymFor(s.cls, slot.text.slice(s.start, s.end));
      out += slot.text.slice(pos, s.start) + pseudonym;
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
function addVerbatimRepeats(slots: TextSlot[], values: Map<string, EntityClass>): void {
  // Very short values would also hit inside unrelated words; detection alone covers those.
  const candidates: Array<{ pseudonym: string; value: string }> = [];
  for (const [v, cls] of values) if (v.length >= 4) candidates.push({ pseudonym: v, value: cls });
  if (candidates.length === 0) return;
  // One pass per text over a trie of all values (not one indexOf per value and text); the
  // matcher's "pseudonym → value" here is "real value → its class".
  const finder = new PseudonymMatcher(candidates);
  for (const slot of slots) {
    let added: Span[] | undefined;
    finder.forEachMatch(slot.text, (start, end, cls) => {
      if (!overlaps(slot.spans, start, end)) (added ??= []).push({ start, end, cls });
    });
    if (added) slot.spans = [...(slot.spans ?? []), ...added].sort((a, b) => a.start - b.start);
  }
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

// ---- body walkers -------------------------------------------------------------------------

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function addStringField(obj: JsonObject, key: string, path: string, messageIndex: number | undefined, slots: TextSlot[]): void {
  const v = obj[key];
  if (typeof v === 'string') slots.push({ text: v, path, messageIndex, set: (s) => (obj[key] = s) });
}

/** OpenAI content: a string, or an array of parts with `text`. */
function addContent(holder: JsonObject, key: string, path: string, messageIndex: number | undefined, slots: TextSlot[]): void {
  const content = holder[key];
  if (typeof content === 'string') {
    addStringField(holder, key, path, messageIndex, slots);
  } else if (Array.isArray(content)) {
    content.forEach((part, j) => {
      if (isObject(part)) addStringField(part, 'text', `${path}[${j}].text`, messageIndex, slots);
    });
  }
}

function collectOpenAiChat(body: JsonObject, slots: TextSlot[], commits: Array<() => void>): void {
  const messages = body['messages'];
  if (!Array.isArray(messages)) return;
  messages.forEach((m, i) => {
    if (!isObject(m)) return;
    addContent(m, 'content', `messages[${i}].content`, i, slots);
    addStringField(m, 'reasoning_content', `messages[${i}].reasoning_content`, i, slots);
    addStringField(m, 'reasoning', `messages[${i}].reasoning`, i, slots);
    const calls = m['tool_calls'];
    if (Array.isArray(calls)) {
      calls.forEach((call, k) => {
        const fn = isObject(call) ? call['function'] : undefined;
        if (isObject(fn)) addJsonStringField(fn, 'arguments', `messages[${i}].tool_calls[${k}].function.arguments`, i, slots, commits);
      });
    }
    const legacy = m['function_call'];
    if (isObject(legacy)) addJsonStringField(legacy, 'arguments', `messages[${i}].function_call.arguments`, i, slots, commits);
  });
}

/**
 * A string holding JSON (tool-call arguments): its string values become slots; the string is
 * re-serialised once after masking. Not valid JSON (e.g. truncated) → masked as plain text.
 */
function addJsonStringField(
  holder: JsonObject, key: string, path: string, messageIndex: number, slots: TextSlot[], commits: Array<() => void>,
): void {
  const raw = holder[key];
  if (typeof raw !== 'string' || raw.length === 0) return;
  let parsed: JsonValue;
  try {
    parsed = JSON.parse(raw) as JsonValue;
  } catch {
    addStringField(holder, key, path, messageIndex, slots);
    return;
  }
  if (typeof parsed === 'string') {
    slots.push({ text: parsed, path, messageIndex, set: (s) => commits.push(() => (holder[key] = JSON.stringify(s))) });
    return;
  }
  let dirty = false;
  collectJsonStrings(parsed, path, messageIndex, slots, () => (dirty = true));
  commits.push(() => {
    if (dirty) holder[key] = JSON.stringify(parsed);
  });
}

/** Every string value inside a parsed JSON value (keys are left alone). */
function collectJsonStrings(value: JsonValue, path: string, messageIndex: number | undefined, slots: TextSlot[], onChange: () => void): void {
  if (Array.isArray(value)) {
    value.forEach((item, j) => {
      if (typeof item === 'string') {
        slots.push({ text: item, path: `${path}[${j}]`, messageIndex, set: (s) => ((value[j] = s), onChange()) });
      } else collectJsonStrings(item, `${path}[${j}]`, messageIndex, slots, onChange);
    });
  } else if (isObject(value)) {
    for (const k of Object.keys(value)) {
      const item = value[k]!;
      if (typeof item === 'string') {
        slots.push({ text: item, path: `${path}.${k}`, messageIndex, set: (s) => ((value[k] = s), onChange()) });
      } else collectJsonStrings(item, `${path}.${k}`, messageIndex, slots, onChange);
    }
  }
}

function collectAnthropicBlocks(blocks: JsonValue[], path: string, messageIndex: number | undefined, slots: TextSlot[]): void {
  blocks.forEach((block, j) => {
    if (!isObject(block)) return;
    const at = `${path}[${j}]`;
    switch (block['type']) {
      case 'text':
        addStringField(block, 'text', `${at}.text`, messageIndex, slots);
        break;
      case 'tool_use': {
        const input = block['input'];
        if (isObject(input) || Array.isArray(input)) collectJsonStrings(input, `${at}.input`, messageIndex, slots, () => {});
        break;
      }
      case 'tool_result': {
        const content = block['content'];
        if (typeof content === 'string') addStringField(block, 'content', `${at}.content`, messageIndex, slots);
        else if (Array.isArray(content)) collectAnthropicBlocks(content, `${at}.content`, messageIndex, slots);
        break;
      }
      case 'document': {
        const source = block['source'];
        if (isObject(source) && source['type'] === 'text') addStringField(source, 'data', `${at}.source.data`, messageIndex, slots);
        break;
      }
      // thinking / redacted_thinking carry a signature over their exact text; they were written by
      // the upstream from masked input, so they are passed on untouched. Images are not text.
      default:
        break;
    }
  });
}

function collectAnthropic(body: JsonObject, slots: TextSlot[]): void {
  const system = body['system'];
  if (typeof system === 'string') addStringField(body, 'system', 'system', undefined, slots);
  else if (Array.isArray(system)) collectAnthropicBlocks(system, 'system', undefined, slots);
  const messages = body['messages'];
  if (!Array.isArray(messages)) return;
  messages.forEach((m, i) => {
    if (!isObject(m)) return;
    const content = m['content'];
    if (typeof content === 'string') addStringField(m, 'content', `messages[${i}].content`, i, slots);
    else if (Array.isArray(content)) collectAnthropicBlocks(content, `messages[${i}].content`, i, slots);
  });
}

function collectEmbeddings(body: JsonObject, slots: TextSlot[]): void {
  const input = body['input'];
  if (typeof input === 'string') addStringField(body, 'input', 'input', undefined, slots);
  else if (Array.isArray(input)) {
    input.forEach((item, j) => {
      if (typeof item === 'string') slots.push({ text: item, path: `input[${j}]`, messageIndex: j, set: (s) => (input[j] = s) });
    });
  }
}
