/** Wire map of the OpenAI Responses API (`/responses`). */
import type { WireMap } from '../types.js';
import { requestFields, toolSchemas } from './request.js';
import { responseFields } from './response.js';
import { stream } from './stream.js';

export const openAiResponses: WireMap = { format: 'openai-responses', requestFields, toolSchemas, responseFields, stream };
