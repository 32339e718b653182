/** Embeddings are never streamed: no stream map. */
import type { StreamMap } from '../types.js';

export const stream: StreamMap | undefined = undefined;
