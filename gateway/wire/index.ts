/** The wire maps by format, and which format each gateway route speaks. */
import type { RouteKind } from '../context.js';
import type { WireFormatName, WireMap } from './types.js';
import { openAiChat } from './openai-chat/index.js';
import { anthropicMessages } from './anthropic-messages/index.js';
import { openAiResponses } from './openai-responses/index.js';
import { embeddings } from './embeddings/index.js';

export const wireMaps: Record<WireFormatName, WireMap> = {
  'openai-chat': openAiChat,
  'anthropic-messages': anthropicMessages,
  'openai-responses': openAiResponses,
  embeddings,
};

const byRoute: Partial<Record<RouteKind, WireFormatName>> = {
  chat: 'openai-chat',
  messages: 'anthropic-messages',
  responses: 'openai-responses',
  embeddings: 'embeddings',
};

/** The wire map of a route; undefined for routes without a body (models). */
export function wireMapForRoute(route: RouteKind): WireMap | undefined {
  const name = byRoute[route];
  return name ? wireMaps[name] : undefined;
}

export type { WireFormatName, WireMap } from './types.js';
