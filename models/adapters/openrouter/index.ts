/** OpenRouter: OpenAI-compatible at /api/v1 (chat, Responses, embeddings), Anthropic Messages at /api/v1/messages, Bearer auth. */
import { bearer, openAiStylePaths, type UpstreamAdapter } from '../types.js';

export const openrouterAdapter: UpstreamAdapter = {
  kind: 'openrouter',
  defaultBaseUrl: 'https://openrouter.ai/api/v1',
  url: (baseUrl, route) => baseUrl + openAiStylePaths[route],
  authHeaders: bearer,
};
