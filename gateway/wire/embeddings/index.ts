/** Wire map of embeddings (`/embeddings`). */
import type { WireMap } from '../types.js';
import { requestFields, toolSchemas } from './request.js';
import { responseFields } from './response.js';
import { stream } from './stream.js';

export const embeddings: WireMap = { format: 'embeddings', requestFields, toolSchemas, responseFields, ...(stream ? { stream } : {}) };
