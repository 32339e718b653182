/**
 * Pre-flight token estimates with tiktoken (WASM, "lite" build so only the encodings we use are
 * loaded). Actual usage always comes from the upstream when it reports it; these numbers are
 * for budget reservations, prompt-size rules and metering when no usage came back.
 *
 * Encoding per model family:
 * - o200k_base: gpt-4o, gpt-4.1, gpt-4.5, gpt-5*, o1/o3/o4 and later OpenAI models, gpt-oss.
 * - cl100k_base: gpt-3.5, gpt-4 (non-"o"), text-embedding-3 and ada-002.
 * - Fallback for every non-OpenAI family (Claude, Gemini, Llama, Mistral, Qwen, DeepSeek…):
 *   cl100k_base. Their own tokenizers are not public or not shipped for JS; cl100k counts are
 *   typically within ±20% of theirs (Claude tends to count more), which is why estimates are
 *   always marked as estimates and never replace upstream-reported usage.
 *
 * Cost: tiktoken runs at roughly 1 µs per token, so a 100k-token prompt takes ~90 ms. Hot paths
 * should use `utf8UpperBound` first (every BPE token covers at least one byte, so bytes ≥ tokens)
 * and only tokenize when the bound is not good enough.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Tiktoken } from 'tiktoken/lite';
import type { JsonObject, JsonValue, WireFormat } from '../gateway/context.js';

export type EncodingName = 'o200k_base' | 'cl100k_base';

const require = createRequire(import.meta.url);
const encoders = new Map<EncodingName, Tiktoken>();

/** Cached encoder; the first call per encoding loads its ranks (~0.2–0.4 s). */
export function encoder(name: EncodingName): Tiktoken {
  let enc = encoders.get(name);
  if (!enc) {
    const { Tiktoken: TiktokenCtor } = require('tiktoken/lite') as typeof import('tiktoken/lite');
    // Read + JSON.parse rather than require(): loaders that hook require (tsx) slow 2 MB JSON down ~5x.
    const file = require.resolve(`tiktoken/encoders/${name}.json`);
    const ranks = JSON.parse(readFileSync(file, 'utf8')) as { bpe_ranks: string; special_tokens: Record<string, number>; pat_str: string };
    enc = new TiktokenCtor(ranks.bpe_ranks, ranks.special_tokens, ranks.pat_str);
    encoders.set(name, enc);
  }
  return enc;
}

/**
 * Loads both encodings now. The gateway calls this before it listens: loading is synchronous
 * (~0.3–2 s) and would otherwise stall every in-flight request on the first estimate.
 */
export function warmTokenizers(): void {
  encoder('cl100k_base');
  encoder('o200k_base');
}

/** OpenAI models using o200k_base: 4o/4.1/4.5, 5.x, o-series, oss, chatgpt-4o. */
const O200K = /^(gpt-4o|gpt-4\.1|gpt-4\.5|gpt-5|gpt-6|gpt-oss|chatgpt-4o|o\d)/;
const CL100K_OPENAI = /^(gpt-3\.5|gpt-35|gpt-4|text-embedding-|davinci-002|babbage-002)/;

/** Picks the encoding for a model id (OpenRouter "vendor/name" ids and bare ids alike). */
export function encodingForModel(model: string): EncodingName {
  const slash = model.indexOf('/');
  const vendor = slash > 0 ? model.slice(0, slash) : '';
  const name = (slash > 0 ? model.slice(slash + 1) : model).toLowerCase();
  if (vendor === '' || vendor === 'openai') {
    if (O200K.test(name)) return 'o200k_base';
    if (CL100K_OPENAI.test(name)) return 'cl100k_base';
  }
  return 'cl100k_base';
}

/** Tokens in a text; special-token strings in user text are counted as plain text, never rejected. */
export function countTokens(text: string, encoding: EncodingName): number {
  if (text.length === 0) return 0;
  return encoder(encoding).encode_ordinary(text).length;
}

/** Tokens the cookbook formula adds per chat message and to prime the reply. */
const TOKENS_PER_MESSAGE = 3;
const TOKENS_REPLY_PRIMING = 3;
/** An image part, counted as one 1024×1024 high-detail image (OpenAI's 765) — an estimate. */
export const IMAGE_TOKEN_ESTIMATE = 765;

/** What a request asks the model to read: its text pieces plus fixed extras. */
export interface PromptParts {
  parts: string[];
  /** Message framing and images, already in tokens. */
  fixedTokens: number;
}

function collectContent(value: JsonValue | undefined, parts: string[], extra: { tokens: number }): void {
  if (value === undefined || value === null) return;
  if (typeof value === 'string') {
    parts.push(value);
    return;
  }
  if (Array.isArray(value)) {
    for (const v of value) collectContent(v, parts, extra);
    return;
  }
  if (typeof value !== 'object') return;
  const type = value.type;
  if (type === 'image_url' || type === 'image' || type === 'input_image') {
    extra.tokens += IMAGE_TOKEN_ESTIMATE;
    return;
  }
  if (typeof value.text === 'string') parts.push(value.text);
  // Anthropic blocks: tool_use input, tool_result content, thinking.
  if (value.input !== undefined) parts.push(JSON.stringify(value.input));
  if (value.content !== undefined) collectContent(value.content, parts, extra);
  if (typeof value.thinking === 'string') parts.push(value.thinking);
  // Responses API items: function_call arguments, function_call_output output.
  if (typeof value.arguments === 'string') parts.push(value.arguments);
  if (value.output !== undefined) collectContent(value.output, parts, extra);
}

/** Gathers the prompt text of an OpenAI chat or Anthropic messages body (or embeddings input). */
export function promptParts(body: JsonObject, format: WireFormat): PromptParts {
  const parts: string[] = [];
  const extra = { tokens: 0 };
  let messages = 0;
  if (format === 'anthropic') collectContent(body.system, parts, extra);
  const list = body.messages;
  if (Array.isArray(list)) {
    for (const m of list) {
      if (!m || typeof m !== 'object' || Array.isArray(m)) continue;
      messages++;
      collectContent(m.content, parts, extra);
      if (typeof m.name === 'string') parts.push(m.name);
      if (Array.isArray(m.tool_calls)) {
        for (const call of m.tool_calls) {
          if (call && typeof call === 'object' && !Array.isArray(call) && call.function && typeof call.function === 'object' && !Array.isArray(call.function)) {
            const fn = call.function;
            if (typeof fn.name === 'string') parts.push(fn.name);
            if (typeof fn.arguments === 'string') parts.push(fn.arguments);
          }
        }
      }
    }
  }
  if (body.input !== undefined) collectContent(body.input, parts, extra);
  // Responses API system prompt.
  if (typeof body.instructions === 'string') parts.push(body.instructions);
  if (body.prompt !== undefined) collectContent(body.prompt, parts, extra);
  // Tool schemas are sent to the model as text too; their JSON is a close (slightly high) stand-in.
  if (Array.isArray(body.tools) && body.tools.length > 0) parts.push(JSON.stringify(body.tools));
  const fixedTokens = extra.tokens + (messages > 0 ? messages * TOKENS_PER_MESSAGE + TOKENS_REPLY_PRIMING : 0);
  return { parts, fixedTokens };
}

/** tiktoken estimate of a request's prompt tokens for the given model. */
export function estimatePromptTokens(body: JsonObject, format: WireFormat, model: string): number {
  const p = promptParts(body, format);
  return countTokens(p.parts.join('\n'), encodingForModel(model)) + p.fixedTokens;
}

/**
 * A guaranteed upper bound on prompt tokens without tokenizing: UTF-8 bytes of the text (each
 * BPE token covers ≥ 1 byte) plus framing. Cheap enough for every request.
 */
export function promptTokensUpperBound(body: JsonObject, format: WireFormat): number {
  const p = promptParts(body, format);
  // Summed per part (plus one separator each), so no joined copy of a large prompt is made.
  let bytes = p.fixedTokens + p.parts.length;
  for (const part of p.parts) bytes += Buffer.byteLength(part, 'utf8');
  return bytes;
}

/** tiktoken estimate of the completion text in a non-stream response (when no usage came back). */
export function estimateCompletionTokens(body: JsonValue, model: string): number {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return 0;
  const parts: string[] = [];
  const extra = { tokens: 0 };
  if (Array.isArray(body.choices)) {
    for (const choice of body.choices) {
      if (!choice || typeof choice !== 'object' || Array.isArray(choice)) continue;
      const message = choice.message;
      if (!message || typeof message !== 'object' || Array.isArray(message)) continue;
      collectContent(message.content, parts, extra);
      if (typeof message.reasoning === 'string') parts.push(message.reasoning);
      if (Array.isArray(message.tool_calls)) parts.push(JSON.stringify(message.tool_calls));
    }
  } else if (Array.isArray(body.content)) {
    collectContent(body.content, parts, extra);
  }
  return countTokens(parts.join('\n'), encodingForModel(model)) + extra.tokens;
}
