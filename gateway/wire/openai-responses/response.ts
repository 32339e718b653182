/**
 * OpenAI Responses response object (§3.2): output items (message text and refusals,
 * function_call arguments, custom tool input, reasoning summaries) and the echoed
 * `instructions`. The same walk serves the `response` inside stream events.
 */
import type { JsonValue } from '../../context.js';
import { field, isObject } from '../fields.js';
import type { FieldVisitor } from '../types.js';
import { itemFields } from './request.js';

export function responseFields(body: JsonValue, visit: FieldVisitor): void {
  if (!isObject(body)) return;
  const output = body['output'];
  if (Array.isArray(output)) output.forEach((item, i) => isObject(item) && itemFields(visit, item, `output[${i}]`));
  field(visit, body, 'instructions', 'text', 'instructions');
  field(visit, body, 'output_text', 'text', 'output_text');
}
