/** Any OpenAI-compatible server (OpenAI, vLLM, LiteLLM, LM Studio...): Bearer auth, /v1 paths. */
import { bearer, openAiStylePaths, type UpstreamAdapter } from '../types.js';

export const openaiAdapter: UpstreamAdapter = {
  kind: 'openai',
  defaultBaseUrl: 'https://api.openai.com/v1',
  url: (baseUrl, route) => baseUrl + openAiStylePaths[route],
  authHeaders: bearer,
};
