/**
 * Token estimates of a request and of an answer without usage: their texts come from the
 * route's wire map (gateway/wire/<format>/ — the map masking, re-identification and cache keys
 * use), so every field that reaches the model is counted, in every wire format.
 *
 * Counted: every text field except delivery metadata (`user`, `safety_identifier`, `metadata`,
 * stop sequences); JSON values (Anthropic tool_use input, tool parameter schemas) as their JSON
 * text. Plus the cookbook framing per chat message and a fixed estimate per image part.
 *
 * Tokens are counted per text, and long texts' counts are memoised on a SHA-256 of the text
 * and the encoding: an agent resends its conversation every turn, and tiktoken runs at about
 * 1 µs per token, so a 300 KB history costs ~100 ms to count afresh and ~0.5 ms from the memo.
 */
import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { JsonObject, JsonValue, RouteKind } from '../context.js';
import { countTokens, encodingForModel, type EncodingName } from '../../models/tokens.js';
import { wireMapForRoute } from '../wire/index.js';

/** Tokens the cookbook formula adds per chat message and to prime the reply. */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_REPLY_PRIMING = 3;
/** An image part, counted as one 1024×1024 high-detail image (OpenAI's 765) — an estimate. */
export const IMAGE_TOKEN_ESTIMATE = 765;

/** Top-level fields the wire map names that the model does not read as prompt. */
const NOT_PROMPT = /^(user|safety_identifier|metadata|stop|stop_sequences)(\.|\[|$)/;
const IMAGE_TYPES: ReadonlySet<string> = new Set(['image_url', 'image', 'input_image']);

/** What a request asks the model to read: its texts plus fixed extras. */
export interface PromptParts {
  parts: string[];
  /** Message framing and images, already in tokens. */
  fixedTokens: number;
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Image parts in message content (and tool results nested in it), at any depth of content arrays. */
function imageParts(content: JsonValue | undefined): number {
  if (!Array.isArray(content)) return 0;
  let n = 0;
  for (const part of content) {
    if (!isObject(part)) continue;
    if (typeof part['type'] === 'string' && IMAGE_TYPES.has(part['type'])) n++;
    else if (Array.isArray(part['content'])) n += imageParts(part['content']);
    else if (Array.isArray(part['output'])) n += imageParts(part['output']);
  }
  return n;
}

/** The prompt texts of a request body, through its route's wire map. */
export function promptParts(body: JsonObject, route: RouteKind): PromptParts {
  const parts: string[] = [];
  wireMapForRoute(route)?.requestFields(body, (f) => {
    if (NOT_PROMPT.test(f.path)) return;
    const v = (f.holder as Record<string | number, JsonValue | undefined>)[f.key];
    if (typeof v === 'string') parts.push(v);
    else if (v !== undefined && v !== null) parts.push(JSON.stringify(v));
  });
  let images = 0;
  let messages = 0;
  const list = body['messages'] ?? body['input'];
  if (Array.isArray(list)) {
    for (const m of list) {
      if (!isObject(m)) continue;
      if (Array.isArray(body['messages'])) messages++;
      images += imageParts(m['content']) + imageParts(m['output']);
    }
  }
  const fixedTokens = images * IMAGE_TOKEN_ESTIMATE + (messages > 0 ? messages * TOKENS_PER_MESSAGE + TOKENS_REPLY_PRIMING : 0);
  return { parts, fixedTokens };
}

/** Texts shorter than this are counted directly: hashing them costs about as much. */
const MIN_MEMO_CHARS = 256;
/** Token counts of long texts by encoding and SHA-256 (about 120 bytes an entry, no text kept). */
const counts = new LRUCache<string, number>({ max: 20_000 });

/** Tokens in one text, memoised for long texts. */
export function countTextTokens(text: string, encoding: EncodingName): number {
  if (text.length < MIN_MEMO_CHARS) return countTokens(text, encoding);
  const key = `${encoding}:${hash('sha256', text, 'base64')}`;
  let n = counts.get(key);
  if (n === undefined) counts.set(key, (n = countTokens(text, encoding)));
  return n;
}

/** tiktoken estimate of a request's prompt tokens for the given model. */
export function estimatePromptTokens(body: JsonObject, route: RouteKind, model: string): number {
  const p = promptParts(body, route);
  const encoding = encodingForModel(model);
  let tokens = p.fixedTokens;
  for (const part of p.parts) tokens += countTextTokens(part, encoding);
  return tokens;
}

/**
 * A guaranteed upper bound on prompt tokens without tokenizing: UTF-8 bytes of the texts (each
 * BPE token covers ≥ 1 byte) plus framing. Cheap enough for every request.
 */
export function promptTokensUpperBound(body: JsonObject, route: RouteKind): number {
  const p = promptParts(body, route);
  let bytes = p.fixedTokens;
  for (const part of p.parts) bytes += Buffer.byteLength(part, 'utf8');
  return bytes;
}

/** tiktoken estimate of the completion text in a non-stream response (when no usage came back). */
export function estimateCompletionTokens(body: JsonValue, route: RouteKind, model: string): number {
  const encoding = encodingForModel(model);
  let tokens = 0;
  wireMapForRoute(route)?.responseFields(body, (f) => {
    const v = (f.holder as Record<string | number, JsonValue | undefined>)[f.key];
    if (typeof v === 'string') tokens += countTextTokens(v, encoding);
    else if (v !== undefined && v !== null) tokens += countTextTokens(JSON.stringify(v), encoding);
  });
  return tokens;
}
