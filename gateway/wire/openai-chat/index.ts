/** Wire map of OpenAI Chat Completions (`/chat/completions`). */
import type { WireMap } from '../types.js';
import { requestFields, toolSchemas } from './request.js';
import { responseFields } from './response.js';
import { stream } from './stream.js';

export const openAiChat: WireMap = { format: 'openai-chat', requestFields, toolSchemas, responseFields, stream };
