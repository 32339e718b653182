/**
 * Embeddings request (wire-formats.md §4): `input` as a string or strings (each its own item,
 * so a block names which), and `user`. Token-id arrays are not text and pass as they are.
 */
import type { JsonObject } from '../../context.js';
import { field, stringOrStrings } from '../fields.js';
import type { FieldVisitor, ToolSchema } from '../types.js';

export function requestFields(body: JsonObject, visit: FieldVisitor): void {
  stringOrStrings(visit, body, 'input', 'input', true);
  field(visit, body, 'user', 'text', 'user');
}

export function toolSchemas(): Map<string, ToolSchema> {
  return new Map();
}
