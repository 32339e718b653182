/** Wire map of Anthropic Messages (`/messages`). */
import type { WireMap } from '../types.js';
import { requestFields, toolSchemas } from './request.js';
import { responseFields } from './response.js';
import { stream } from './stream.js';

export const anthropicMessages: WireMap = { format: 'anthropic-messages', requestFields, toolSchemas, responseFields, stream };
