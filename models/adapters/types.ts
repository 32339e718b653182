/** The shape every upstream adapter has (one folder per upstream kind, same files in each). */
import type { RouteKind } from '../../gateway/context.js';
import type { UpstreamKind } from '../../gateway/config.js';

export interface UpstreamAdapter {
  readonly kind: UpstreamKind;
  /** Base URL used when the config gives none. */
  readonly defaultBaseUrl: string;
  /** Full URL for a gateway route, or undefined when this upstream has no such endpoint. */
  url(baseUrl: string, route: RouteKind): string | undefined;
  /** Authentication and fixed headers this upstream needs. */
  authHeaders(apiKey: string | undefined): Record<string, string>;
}

export const openAiStylePaths: Record<RouteKind, string> = {
  chat: '/chat/completions',
  messages: '/messages',
  responses: '/responses',
  embeddings: '/embeddings',
  models: '/models',
};

export function bearer(apiKey: string | undefined): Record<string, string> {
  return apiKey ? { authorization: `Bearer ${apiKey}` } : {};
}
