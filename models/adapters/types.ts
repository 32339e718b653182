/** The shape every upstream adapter has (one folder per upstream kind, same files in each). */

/** The upstream APIs an adapter speaks. */
export type UpstreamKind = 'openrouter' | 'openai' | 'ollama' | 'anthropic';

/** The gateway's API routes, by wire format. */
export type RouteKind = 'chat' | 'messages' | 'responses' | 'embeddings' | 'models';

/** One upstream kind's adapter. */
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
