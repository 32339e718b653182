/** Anthropic message response: content blocks (text, tool_use input) as in a request (§2.2). */
import type { JsonValue } from '../../context.js';
import { isObject } from '../fields.js';
import type { FieldVisitor } from '../types.js';
import { blockFields } from './request.js';

export function responseFields(body: JsonValue, visit: FieldVisitor): void {
  if (isObject(body) && Array.isArray(body['content'])) blockFields(visit, body['content'], 'content');
}
