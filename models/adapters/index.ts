/** Registry of upstream adapters by kind. */
import type { UpstreamAdapter, UpstreamKind } from './types.js';
import { openrouterAdapter } from './openrouter/index.js';
import { openaiAdapter } from './openai/index.js';
import { ollamaAdapter } from './ollama/index.js';
import { anthropicAdapter } from './anthropic/index.js';

export const adapters: Record<UpstreamKind, UpstreamAdapter> = {
  openrouter: openrouterAdapter,
  openai: openaiAdapter,
  ollama: ollamaAdapter,
  anthropic: anthropicAdapter,
};

export type { UpstreamAdapter } from './types.js';
