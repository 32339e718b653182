/**
 * A local Ollama, the offline fallback: its OpenAI-compatible API lives under /v1
 * (and Anthropic Messages at /v1/messages in recent versions). No key needed. The OpenAI
 * Responses API is not served: /responses gets a 400 naming this upstream.
 */
import { bearer, openAiStylePaths, type UpstreamAdapter } from '../types.js';

export const ollamaAdapter: UpstreamAdapter = {
  kind: 'ollama',
  defaultBaseUrl: 'http://127.0.0.1:11434/v1',
  url: (baseUrl, route) => (route === 'responses' ? undefined : baseUrl + openAiStylePaths[route]),
  authHeaders: bearer,
};
