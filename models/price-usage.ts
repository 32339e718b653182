/** Token counts of one request and what they cost at a model's price (gateway meter, rules simulator). */
import type { ModelPrice } from './registry.js';

export interface TokenUsage {
  /** All prompt tokens, including those read from or written to the provider's cache. */
  promptTokens: number;
  completionTokens: number;
  /** Prompt tokens read from the provider's prompt cache. */
  cachedTokens: number;
  /** Prompt tokens written to the provider's cache (Anthropic cache_creation_input_tokens). */
  cacheWriteTokens: number;
  /** Cost the upstream reported (OpenRouter usage.cost), USD. */
  reportedCostUsd?: number;
}

/** Price × tokens, with cache reads and writes at their own prices when the model has them. */
export function priceUsage(usage: TokenUsage, price: ModelPrice): number {
  const plainPrompt = Math.max(0, usage.promptTokens - usage.cachedTokens - usage.cacheWriteTokens);
  return (
    plainPrompt * price.promptUsdPerToken +
    usage.cachedTokens * (price.cacheReadUsdPerToken ?? price.promptUsdPerToken) +
    usage.cacheWriteTokens * (price.cacheWriteUsdPerToken ?? price.promptUsdPerToken) +
    usage.completionTokens * price.completionUsdPerToken
  );
}
