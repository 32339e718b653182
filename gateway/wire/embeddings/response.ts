/** Embeddings response: vectors and usage only, no text to restore. */
import type { JsonValue } from '../../context.js';
import type { FieldVisitor } from '../types.js';

export function responseFields(_body: JsonValue, _visit: FieldVisitor): void {}
