/**
 * Anthropic's own API: Messages at /v1/messages with x-api-key + anthropic-version; it also
 * serves an OpenAI-compatible /v1/chat/completions. No embeddings or Responses endpoint.
 */
import { openAiStylePaths, type UpstreamAdapter } from '../types.js';

export const anthropicAdapter: UpstreamAdapter = {
  kind: 'anthropic',
  defaultBaseUrl: 'https://api.anthropic.com/v1',
  url: (baseUrl, route) => (route === 'embeddings' || route === 'responses' ? undefined : baseUrl + openAiStylePaths[route]),
  authHeaders: (apiKey) => ({ ...(apiKey ? { 'x-api-key': apiKey } : {}), 'anthropic-version': '2023-06-01' }),
};
