/**
 * Streaming re-identification: pseudonym → real value in text that arrives in pieces.
 *
 * A radix trie over the request's pseudonyms is walked at each position that can start one; matching
 * is leftmost-longest. Only the shortest suffix that could still become a pseudonym is held
 * back (at most one pseudonym's length), so a stream is delayed by no more than one chunk and
 * never buffered. The same engine does the non-stream case (one push + flush), which is what
 * makes the streamed result equal the non-stream result for every way of cutting the stream.
 *
 * SSE wrappers keep one stream per OpenAI choice index (content, reasoning) and per tool-call
 * index (argument fragments, where restored values are JSON-escaped), and per Anthropic content
 * block index (text_delta, input_json_delta). Held text is flushed as an extra delta just before
 * the event that ends that choice or block.
 */
import type { JsonObject, JsonValue, SseEvent } from '../context.js';
import type { PseudonymEntry } from './mask-request.js';

interface RadixNode {
  /** Outgoing edges by their label's first char; absent on leaves. */
  edges?: Map<number, RadixEdge>;
  /** Set when a pseudonym ends here. */
  value?: string;
  /** The value as it must appear inside a JSON string literal (computed on first use). */
  escaped?: string;
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

  constructor(entries: Iterable<Pick<PseudonymEntry, 'pseudonym' | 'value'>>) {
    let n = 0;
    for (const { pseudonym, value } of entries) {
      if (pseudonym.length === 0) continue;
      this.#insert(pseudonym, value);
      const first = pseudonym.charCodeAt(0);
      if (first < 128) this.#firstAscii[first] = 1;
      n++;
    }
    this.size = n;
  }

  #insert(key: string, value: string): void {
    let node = this.#root;
    let pos = 0;
    for (;;) {
      if (pos === key.length) {
        node.value = value;
        return;
      }
      const edges = (node.edges ??= new Map());
      const edge = edges.get(key.charCodeAt(pos));
      if (!edge) {
        edges.set(key.charCodeAt(pos), { label: key.slice(pos), node: { value } });
        return;
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
   * #couldExtend when the text ran out while a longer pseudonym was still possible.
   */
  #walk(text: string, i: number): void {
    const n = text.length;
    let node = this.#root;
    let j = i;
    this.#matchEnd = -1;
    this.#matched = undefined;
    this.#couldExtend = false;
    for (;;) {
      if (node.value !== undefined && j > i) {
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

  /** Calls `fn` for each leftmost-longest, non-overlapping occurrence in a complete text. */
  forEachMatch(text: string, fn: (start: number, end: number, value: string) => void): void {
    const n = text.length;
    let i = 0;
    while (i < n) {
      if (!this.canStart(text.charCodeAt(i))) {
        i++;
        continue;
      }
      this.#walk(text, i);
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
   */
  replace(buf: string, final: boolean, jsonEscape: boolean): { out: string; holdFrom: number } {
    const n = buf.length;
    let out = '';
    let emitFrom = 0;
    let i = 0;
    while (i < n) {
      if (!this.canStart(buf.charCodeAt(i))) {
        i++;
        continue;
      }
      this.#walk(buf, i);
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
    const { out, holdFrom } = this.#matcher.replace(buf, false, this.#jsonEscape);
    this.#pending = holdFrom === -1 ? '' : buf.slice(holdFrom);
    return out;
  }

  /** The held-back rest, at the end of the text. */
  flush(): string {
    if (this.#pending.length === 0) return '';
    const { out } = this.#matcher.replace(this.#pending, true, this.#jsonEscape);
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

// ---- SSE wrappers -------------------------------------------------------------------------

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

interface ChoiceStreams {
  content?: ReidentifyingStream;
  reasoningContent?: ReidentifyingStream;
  reasoning?: ReidentifyingStream;
  /** Per tool-call index. */
  args: Map<number, ReidentifyingStream>;
}

const REASONING_FIELDS = [['reasoning_content', 'reasoningContent'], ['reasoning', 'reasoning']] as const;

/** OpenAI chat.completion.chunk streams. */
export async function* reidentifyOpenAiSse(events: AsyncIterable<SseEvent>, matcher: PseudonymMatcher): AsyncGenerator<SseEvent> {
  const choices = new Map<number, ChoiceStreams>();
  let envelope: JsonObject | undefined;

  for await (const ev of events) {
    if (ev.data === undefined || ev.data === '[DONE]' || ev.data.length === 0) {
      if (ev.data === '[DONE]' && envelope) yield* flushAll(choices, envelope);
      yield ev;
      continue;
    }
    let chunk: JsonValue;
    try {
      chunk = JSON.parse(ev.data) as JsonValue;
    } catch {
      yield ev;
      continue;
    }
    if (!isObject(chunk) || !Array.isArray(chunk['choices'])) {
      yield ev;
      continue;
    }
    envelope = chunk;
    const before: SseEvent[] = [];
    let changed = false;
    for (const choice of chunk['choices']) {
      if (!isObject(choice)) continue;
      const index = typeof choice['index'] === 'number' ? choice['index'] : 0;
      let streams = choices.get(index);
      if (!streams) choices.set(index, (streams = { args: new Map() }));
      const delta = choice['delta'];
      if (isObject(delta)) {
        if (typeof delta['content'] === 'string') {
          streams.content ??= new ReidentifyingStream(matcher);
          const out = streams.content.push(delta['content']);
          if (out !== delta['content']) ((delta['content'] = out), (changed = true));
        }
        for (const [field, slot] of REASONING_FIELDS) {
          const text = delta[field];
          if (typeof text !== 'string') continue;
          const s = (streams[slot] ??= new ReidentifyingStream(matcher));
          const out = s.push(text);
          if (out !== text) ((delta[field] = out), (changed = true));
        }
        const calls = delta['tool_calls'];
        if (Array.isArray(calls)) {
          // Clients ignore text after tool calls start: release held content first.
          const heldText = streams.content?.flush();
          if (heldText) ((delta['content'] = (typeof delta['content'] === 'string' ? delta['content'] : '') + heldText), (changed = true));
          for (const call of calls) {
            if (!isObject(call)) continue;
            const fn = call['function'];
            if (!isObject(fn) || typeof fn['arguments'] !== 'string') continue;
            const callIndex = typeof call['index'] === 'number' ? call['index'] : 0;
            let s = streams.args.get(callIndex);
            if (!s) streams.args.set(callIndex, (s = new ReidentifyingStream(matcher, true)));
            const out = s.push(fn['arguments']);
            if (out !== fn['arguments']) ((fn['arguments'] = out), (changed = true));
          }
        }
      }
      if (choice['finish_reason'] != null) {
        // Held text must precede the end of the choice: move this choice's delta, plus what was
        // held, into a chunk of its own just before the one that carries finish_reason.
        const merged: JsonObject = isObject(delta) ? delta : {};
        if (flushInto(merged, streams)) {
          before.push(chunkFor(chunk, index, merged));
          choice['delta'] = {};
          changed = true;
        }
      }
    }
    yield* before;
    yield changed ? { ...ev, data: JSON.stringify(chunk) } : ev;
  }
  if (envelope) yield* flushAll(choices, envelope);
}

/** Appends a choice's held-back text to `delta`; false when nothing was held. */
function flushInto(delta: JsonObject, streams: ChoiceStreams): boolean {
  let added = false;
  const content = streams.content?.flush();
  if (content) ((delta['content'] = (typeof delta['content'] === 'string' ? delta['content'] : '') + content), (added = true));
  for (const [field, slot] of REASONING_FIELDS) {
    const text = streams[slot]?.flush();
    if (text) ((delta[field] = (typeof delta[field] === 'string' ? delta[field] : '') + text), (added = true));
  }
  for (const [callIndex, s] of streams.args) {
    const rest = s.flush();
    if (!rest) continue;
    added = true;
    let calls = delta['tool_calls'];
    if (!Array.isArray(calls)) delta['tool_calls'] = calls = [];
    const existing = calls.find((c) => isObject(c) && c['index'] === callIndex && isObject(c['function']));
    if (existing && isObject(existing) && isObject(existing['function'])) {
      const fn = existing['function'];
      fn['arguments'] = (typeof fn['arguments'] === 'string' ? fn['arguments'] : '') + rest;
    } else {
      calls.push({ index: callIndex, function: { arguments: rest } });
    }
  }
  return added;
}

/** A chunk with the stream's envelope (id, model...) and one choice's delta. */
function chunkFor(envelope: JsonObject, index: number, delta: JsonObject): SseEvent {
  const chunk: JsonObject = {};
  for (const key of ['id', 'object', 'created', 'model', 'system_fingerprint'] as const) {
    const v = envelope[key];
    if (v !== undefined) chunk[key] = v;
  }
  chunk['choices'] = [{ index, delta, finish_reason: null }];
  return { data: JSON.stringify(chunk) };
}

function* flushAll(choices: Map<number, ChoiceStreams>, envelope: JsonObject): Generator<SseEvent> {
  for (const [index, streams] of choices) {
    const delta: JsonObject = {};
    if (flushInto(delta, streams)) yield chunkFor(envelope, index, delta);
  }
}

/** Anthropic messages streams: text_delta and input_json_delta per content block index. */
export async function* reidentifyAnthropicSse(events: AsyncIterable<SseEvent>, matcher: PseudonymMatcher): AsyncGenerator<SseEvent> {
  const blocks = new Map<number, { stream: ReidentifyingStream; kind: 'text_delta' | 'input_json_delta' }>();

  for await (const ev of events) {
    if (ev.data === undefined || ev.data.length === 0) {
      yield ev;
      continue;
    }
    let payload: JsonValue;
    try {
      payload = JSON.parse(ev.data) as JsonValue;
    } catch {
      yield ev;
      continue;
    }
    if (!isObject(payload)) {
      yield ev;
      continue;
    }
    const type = payload['type'];
    const index = typeof payload['index'] === 'number' ? payload['index'] : 0;
    if (type === 'content_block_start') {
      // A text block may start with text already in it.
      const block = payload['content_block'];
      if (isObject(block) && block['type'] === 'text' && typeof block['text'] === 'string' && block['text'].length > 0) {
        const stream = new ReidentifyingStream(matcher);
        blocks.set(index, { stream, kind: 'text_delta' });
        const out = stream.push(block['text']);
        if (out !== block['text']) {
          block['text'] = out;
          yield { ...ev, data: JSON.stringify(payload) };
          continue;
        }
      }
      yield ev;
      continue;
    }
    if (type === 'content_block_delta') {
      const delta = payload['delta'];
      if (isObject(delta)) {
        const kind = delta['type'];
        const field = kind === 'text_delta' ? 'text' : kind === 'input_json_delta' ? 'partial_json' : undefined;
        const text = field ? delta[field] : undefined;
        if (field && typeof text === 'string') {
          let b = blocks.get(index);
          if (!b) blocks.set(index, (b = { stream: new ReidentifyingStream(matcher, kind === 'input_json_delta'), kind: kind as 'text_delta' | 'input_json_delta' }));
          const out = b.stream.push(text);
          if (out !== text) {
            delta[field] = out;
            yield { ...ev, data: JSON.stringify(payload) };
            continue;
          }
        }
      }
      yield ev;
      continue;
    }
    if (type === 'content_block_stop') {
      const b = blocks.get(index);
      if (b) {
        blocks.delete(index);
        const rest = b.stream.flush();
        if (rest) yield anthropicDelta(index, b.kind, rest);
      }
      yield ev;
      continue;
    }
    if (type === 'message_delta' || type === 'message_stop') {
      for (const [i, b] of blocks) {
        const rest = b.stream.flush();
        if (rest) yield anthropicDelta(i, b.kind, rest);
      }
      blocks.clear();
    }
    yield ev;
  }
  for (const [i, b] of blocks) {
    const rest = b.stream.flush();
    if (rest) yield anthropicDelta(i, b.kind, rest);
  }
}

function anthropicDelta(index: number, kind: 'text_delta' | 'input_json_delta', text: string): SseEvent {
  const delta = kind === 'text_delta' ? { type: kind, text } : { type: kind, partial_json: text };
  return { event: 'content_block_delta', data: JSON.stringify({ type: 'content_block_delta', index, delta }) };
}
