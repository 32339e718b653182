/**
 * Token counting with tiktoken (WASM, "lite" build so only the encodings we use are loaded).
 * What a request or an answer asks the model to read is found by the gateway's wire map
 * (gateway/cost/token-estimates.ts); this module only counts. Actual usage always comes from the upstream when it reports it; these numbers are
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
 * should use `promptTokensUpperBound` (gateway/cost/token-estimates.ts) first (every BPE token covers at least one byte, so bytes ≥ tokens)
 * and only tokenize when the bound is not good enough.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Tiktoken } from 'tiktoken/lite';

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
