/**
 * Token usage as upstreams report it (OpenAI/OpenRouter and Anthropic field names) and what it
 * costs. OpenRouter's own `usage.cost` wins over price × tokens when present.
 */
import type { JsonObject, JsonValue } from '../context.js';
import { priceUsage, type TokenUsage } from '../../models/price-usage.js';

export type { TokenUsage };
export { priceUsage };

function num(v: JsonValue | undefined): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined;
}

function obj(v: JsonValue | undefined): JsonObject | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

/**
 * Reads a `usage` object in either dialect. OpenAI counts cached tokens inside prompt_tokens;
 * Anthropic's input_tokens excludes cache reads and writes, so they are added back here.
 * Returns undefined when the object carries no token counts.
 */
export function readUsage(u: JsonValue | undefined): TokenUsage | undefined {
  const usage = obj(u);
  if (!usage) return undefined;
  const details = obj(usage.prompt_tokens_details);
  const cacheRead = num(details?.cached_tokens) ?? num(usage.cache_read_input_tokens) ?? 0;
  const cacheWrite = num(details?.cache_write_tokens) ?? num(usage.cache_creation_input_tokens) ?? 0;
  const cost = num(usage.cost);
  const prompt = num(usage.prompt_tokens);
  if (prompt !== undefined || num(usage.completion_tokens) !== undefined) {
    return {
      promptTokens: prompt ?? 0,
      completionTokens: num(usage.completion_tokens) ?? 0,
      cachedTokens: cacheRead,
      cacheWriteTokens: cacheWrite,
      ...(cost !== undefined ? { reportedCostUsd: cost } : {}),
    };
  }
  const input = num(usage.input_tokens);
  const output = num(usage.output_tokens);
  if (input === undefined && output === undefined) return undefined;
  return {
    promptTokens: (input ?? 0) + cacheRead + cacheWrite,
    completionTokens: output ?? 0,
    cachedTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    ...(cost !== undefined ? { reportedCostUsd: cost } : {}),
  };
}


/** Formats USD for headers and messages: enough digits for sub-cent request costs. */
export function formatUsd(value: number): string {
  if (value === 0) return '0';
  return Math.abs(value) >= 0.01 ? value.toFixed(4) : value.toPrecision(3);
}
