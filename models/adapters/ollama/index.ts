/**
 * A local Ollama, the offline fallback: its OpenAI-compatible API lives under /v1
 * (and Anthropic Messages at /v1/messages in recent versions). No key needed.
 */
import { bearer, openAiStylePaths, type UpstreamAdapter } from '../types.js';

export const ollamaAdapter: UpstreamAdapter = {
  kind: 'ollama',
  defaultBaseUrl: 'http://127.0.0.1:11434/v1',
  url: (baseUrl, route) => baseUrl + openAiStylePaths[route],
  authHeaders: bearer,
};
