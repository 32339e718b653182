/**
 * Streaming re-identification: pseudonym → real value in text that arrives in pieces.
 *
 * A radix trie over the request's pseudonyms is walked at each position that can start one; matching
 * is leftmost-longest. Only the shortest suffix that could still become a pseudonym is held
 * back (at most one pseudonym's length), so a stream is delayed by no more than one chunk and
 * never buffered. The same engine does the non-stream case (one push + flush), which is what
 * makes the streamed result equal the non-stream result for every way of cutting the stream.
 *
 * Realistic surrogates ("Maria Lopez") are restored only on word boundaries, so one that is
 * also part of a longer word is left alone; compact tokens (`EMAIL_7F3A2C9B`) match anywhere.
 *
 * The SSE engine (`reidentifySse`) is format-free: the stream map of the wire format
 * (gateway/wire/<format>/stream.ts) names each event's text fragments and their channel (one
 * per choice × field, tool call, content block, output item × part), the channels an event
 * ends, and the whole values it carries. Held text is flushed as an extra delta just before the
 * event that ends its channel.
 */
import type { JsonObject, SseEvent } from '../context.js';
import type { PseudonymEntry } from './mask-request.js';
import type { StreamMap } from '../wire/types.js';
import { wireMaps } from '../wire/index.js';
import { restoreField } from './reidentify.js';

/** Compact token pseudonyms: CLASS_ + 8 or 16 upper-case hex digits. Everything else is a realistic surrogate. */
const TOKEN_SHAPE = /^[A-Z][A-Z0-9_]*_[0-9A-F]{8}(?:[0-9A-F]{8})?$/;

const asciiWord = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95) asciiWord[c] = 1;
}
const UNICODE_WORD = /[\p{L}\p{N}\p{M}]/u;

/** Letter, digit or underscore (any script). */
function isWordCode(c: number): boolean {
  if (c < 0) return false;
  return c < 128 ? asciiWord[c] === 1 : UNICODE_WORD.test(String.fromCharCode(c));
}

interface RadixNode {
  /** Outgoing edges by their label's first char; absent on leaves. */
  edges?: Map<number, RadixEdge>;
  /** Set when a pseudonym ends here. */
  value?: string;
  /** The value as it must appear inside a JSON string literal (computed on first use). */
  escaped?: string;
  /** The pseudonym starts / ends with a word character and must not continue a word there. */
  leftBound?: boolean;
  rightBound?: boolean;
}

interface RadixEdge {
  /** Characters along this edge (first char included). */
  label: string;
  node: RadixNode;
}

/**
 * The request's pseudonyms as a radix trie (one node per branching point, so a few hundred
 * pseudonyms cost a few hundred small objects), compiled once per request for all its streams.
 */
export class PseudonymMatcher {
  readonly #root: RadixNode = {};
  /** Fast reject for ASCII chars that start no pseudonym. */
  readonly #firstAscii = new Uint8Array(128);
  readonly size: number;
  // Result of the last #walk (kept on the instance: no allocation per position).
  #matchEnd = -1;
  #matched: RadixNode | undefined;
  #couldExtend = false;
  readonly #wordBoundaries: boolean;

  /**
   * `wordBoundaries` (default true): realistic surrogates match only as whole words. Masking
   * uses the matcher to find real values again, where any occurrence counts (false).
   */
  constructor(entries: Iterable<Pick<PseudonymEntry, 'pseudonym' | 'value'>>, opts: { wordBoundaries?: boolean } = {}) {
    this.#wordBoundaries = opts.wordBoundaries ?? true;
    let n = 0;
    for (const { pseudonym, value } of entries) {
      if (pseudonym.length === 0) continue;
      const node = this.#insert(pseudonym, value);
      if (this.#wordBoundaries && !TOKEN_SHAPE.test(pseudonym)) {
        if (isWordCode(pseudonym.charCodeAt(0))) node.leftBound = true;
        if (isWordCode(pseudonym.charCodeAt(pseudonym.length - 1))) node.rightBound = true;
      }
      const first = pseudonym.charCodeAt(0);
      if (first < 128) this.#firstAscii[first] = 1;
      n++;
    }
    this.size = n;
  }

  #insert(key: string, value: string): RadixNode {
    let node = this.#root;
    let pos = 0;
    for (;;) {
      if (pos === key.length) {
        node.value = value;
        return node;
      }
      const edges = (node.edges ??= new Map());
      const edge = edges.get(key.charCodeAt(pos));
      if (!edge) {
        const leaf: RadixNode = { value };
        edges.set(key.charCodeAt(pos), { label: key.slice(pos), node: leaf });
        return leaf;
      }
      const label = edge.label;
      let common = 1;
      while (common < label.length && pos + common < key.length && label.charCodeAt(common) === key.charCodeAt(pos + common)) common++;
      if (common < label.length) {
        // Split the edge where the new key leaves it.
        const mid: RadixNode = { edges: new Map([[label.charCodeAt(common), { label: label.slice(common), node: edge.node }]]) };
        edge.label = label.slice(0, common);
        edge.node = mid;
      }
      node = edge.node;
      pos += common;
    }
  }

  canStart(c: number): boolean {
    return c < 128 ? this.#firstAscii[c] === 1 : this.#root.edges?.has(c) === true;
  }

  /**
   * Walks from `i`: sets #matchEnd/#matched to the longest pseudonym starting there (or -1) and
   * #couldExtend when the text ran out while a longer pseudonym was still possible — or while
   * the character after a word-bound match is not known yet. `prev` is the code before `i`.
   */
  #walk(text: string, i: number, prev: number, final: boolean): void {
    const n = text.length;
    let node = this.#root;
    let j = i;
    this.#matchEnd = -1;
    this.#matched = undefined;
    this.#couldExtend = false;
    for (;;) {
      if (node.value !== undefined && j > i && this.#boundsHold(node, text, j, prev, final)) {
        this.#matchEnd = j;
        this.#matched = node;
      }
      if (node.edges === undefined) return;
      if (j === n) {
        this.#couldExtend = true;
        return;
      }
      const edge = node.edges.get(text.charCodeAt(j));
      if (!edge) return;
      const label = edge.label;
      let k = 1;
      while (k < label.length && j + k < n && text.charCodeAt(j + k) === label.charCodeAt(k)) k++;
      if (k < label.length) {
        if (j + k === n) this.#couldExtend = true;
        return;
      }
      node = edge.node;
      j += k;
    }
  }

  /** Word-boundary rules of a realistic surrogate ending at `j`. */
  #boundsHold(node: RadixNode, text: string, j: number, prev: number, final: boolean): boolean {
    if (node.leftBound && isWordCode(prev)) return false;
    if (node.rightBound) {
      if (j === text.length) {
        if (!final) {
          this.#couldExtend = true;
          return false;
        }
      } else if (isWordCode(text.charCodeAt(j))) return false;
    }
    return true;
  }

  /** Calls `fn` for each leftmost-longest, non-overlapping occurrence in a complete text. */
  forEachMatch(text: string, fn: (start: number, end: number, value: string) => void): void {
    const n = text.length;
    let i = 0;
    while (i < n) {
      if (!this.canStart(text.charCodeAt(i))) {
        i++;
        continue;
      }
      this.#walk(text, i, i > 0 ? text.charCodeAt(i - 1) : -1, true);
      if (this.#matchEnd === -1) {
        i++;
      } else {
        const end = this.#matchEnd;
        fn(i, end, this.#matched!.value!);
        i = end;
      }
    }
  }

  /**
   * Replaces pseudonyms in `buf`. Unless `final`, stops at the first position whose pseudonym
   * could still grow with more text, and returns that position as `holdFrom` (else -1).
   * `prevCode` is the character just before `buf` (-1 at the start of the text).
   */
  replace(buf: string, final: boolean, jsonEscape: boolean, prevCode = -1): { out: string; holdFrom: number } {
    const n = buf.length;
    let out = '';
    let emitFrom = 0;
    let i = 0;
    while (i < n) {
      if (!this.canStart(buf.charCodeAt(i))) {
        i++;
        continue;
      }
      this.#walk(buf, i, i > 0 ? buf.charCodeAt(i - 1) : prevCode, final);
      if (!final && this.#couldExtend) {
        return { out: out + buf.slice(emitFrom, i), holdFrom: i };
      }
      if (this.#matchEnd === -1) {
        i++;
        continue;
      }
      const node = this.#matched!;
      const value = jsonEscape ? (node.escaped ??= JSON.stringify(node.value).slice(1, -1)) : node.value!;
      out += buf.slice(emitFrom, i) + value;
      i = this.#matchEnd;
      emitFrom = i;
    }
    return { out: emitFrom === 0 ? buf : out + buf.slice(emitFrom), holdFrom: -1 };
  }
}

/** Re-identifies one logical text (one choice's content, one tool call's arguments...). */
export class ReidentifyingStream {
  #pending = '';
  /** The input character just before #pending (for word boundaries). */
  #prev = -1;
  readonly #matcher: PseudonymMatcher;
  readonly #jsonEscape: boolean;

  /** `jsonEscape`: the text is JSON source (tool-call arguments), so restored values are escaped. */
  constructor(matcher: PseudonymMatcher, jsonEscape = false) {
    this.#matcher = matcher;
    this.#jsonEscape = jsonEscape;
  }

  /** Text that can be passed on now; a possible pseudonym start at the end is held back. */
  push(chunk: string): string {
    const buf = this.#pending.length === 0 ? chunk : this.#pending + chunk;
    if (buf.length === 0) return '';
    const { out, holdFrom } = this.#matcher.replace(buf, false, this.#jsonEscape, this.#prev);
    if (holdFrom === -1) {
      this.#pending = '';
      this.#prev = buf.charCodeAt(buf.length - 1);
    } else {
      if (holdFrom > 0) this.#prev = buf.charCodeAt(holdFrom - 1);
      this.#pending = buf.slice(holdFrom);
    }
    return out;
  }

  /** The held-back rest, at the end of the text. */
  flush(): string {
    if (this.#pending.length === 0) return '';
    const { out } = this.#matcher.replace(this.#pending, true, this.#jsonEscape, this.#prev);
    this.#prev = this.#pending.charCodeAt(this.#pending.length - 1);
    this.#pending = '';
    return out;
  }

  get holding(): boolean {
    return this.#pending.length > 0;
  }
}

/** Non-stream re-identification of one text. */
export function reidentifyText(matcher: PseudonymMatcher, text: string, jsonEscape = false): string {
  const s = new ReidentifyingStream(matcher, jsonEscape);
  return s.push(text) + s.flush();
}

// ---- SSE engine ---------------------------------------------------------------------------

/**
 * Re-identifies an SSE stream of any wire format, never buffering more than a pseudonym's length
 * per channel. Events the map names no text in pass through untouched (same object).
 */
export async function* reidentifySse(events: AsyncIterable<SseEvent>, matcher: PseudonymMatcher, map: StreamMap): AsyncGenerator<SseEvent> {
  const open = new Map<string, { stream: ReidentifyingStream; last: JsonObject }>();

  /** Held text of every open channel matching a prefix, as events; the channels are closed. */
  function* flush(prefixes: readonly string[], except?: ReadonlySet<string>): Generator<SseEvent> {
    if (open.size === 0) return;
    for (const [channel, ch] of open) {
      if (except?.has(channel) || !prefixes.some((p) => channel.startsWith(p))) continue;
      open.delete(channel);
      const rest = ch.stream.flush();
      if (rest) yield map.fragmentEvent(channel, rest, ch.last);
    }
  }

  for await (const ev of events) {
    const data = ev.data;
    if (data === undefined || data.length === 0) {
      yield ev;
      continue;
    }
    if (map.isTerminal?.(data)) {
      yield* flush(['']);
      yield ev;
      continue;
    }
    let payload: unknown;
    try {
      payload = JSON.parse(data);
    } catch {
      yield ev;
      continue;
    }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
      yield ev;
      continue;
    }
    const fields = map.fields(payload as JsonObject, ev.event);
    if (!fields) {
      yield ev;
      continue;
    }
    const before: SseEvent[] = [];
    let changed = false;
    const ending = fields.ends ?? [];
    const released = fields.releaseBefore;
    // Channels with a fragment here: only needed when this event ends or releases channels.
    const inEvent = ending.length > 0 || (released !== undefined && released.length > 0) ? new Set<string>() : undefined;

    for (const frag of fields.fragments) {
      const text = frag.holder[frag.key];
      if (typeof text !== 'string') continue;
      inEvent?.add(frag.channel);
      let ch = open.get(frag.channel);
      if (!ch) open.set(frag.channel, (ch = { stream: new ReidentifyingStream(matcher, frag.json), last: payload as JsonObject }));
      ch.last = payload as JsonObject;
      let out = ch.stream.push(text);
      if (released?.includes(frag.channel)) {
        // Out of this event, into one of its own ahead of it, with everything held.
        out += ch.stream.flush();
        open.delete(frag.channel);
        delete frag.holder[frag.key];
        changed = true;
        if (out) before.push(map.fragmentEvent(frag.channel, out, payload as JsonObject));
        continue;
      }
      if (ending.some((p) => frag.channel.startsWith(p))) {
        open.delete(frag.channel);
        const rest = ch.stream.flush();
        if (rest) {
          // Held text must precede the end: this fragment and the rest go in an event of their own.
          delete frag.holder[frag.key];
          changed = true;
          before.push(map.fragmentEvent(frag.channel, out + rest, payload as JsonObject));
          continue;
        }
      }
      if (out !== text) {
        frag.holder[frag.key] = out;
        changed = true;
      }
    }
    // Channels released or ended here without a fragment in this event: their held text goes first.
    if (released !== undefined && released.length > 0) before.push(...flush(released, inEvent));
    if (ending.length > 0) before.push(...flush(ending, inEvent));
    for (const f of fields.whole) if (restoreField(f, matcher)) changed = true;

    yield* before;
    yield changed ? { ...ev, data: JSON.stringify(payload) } : ev;
  }
  yield* flush(['']);
}

/** OpenAI chat.completion.chunk streams. */
export function reidentifyOpenAiSse(events: AsyncIterable<SseEvent>, matcher: PseudonymMatcher): AsyncGenerator<SseEvent> {
  return reidentifySse(events, matcher, wireMaps['openai-chat'].stream!);
}

/** Anthropic messages streams. */
export function reidentifyAnthropicSse(events: AsyncIterable<SseEvent>, matcher: PseudonymMatcher): AsyncGenerator<SseEvent> {
  return reidentifySse(events, matcher, wireMaps['anthropic-messages'].stream!);
}
