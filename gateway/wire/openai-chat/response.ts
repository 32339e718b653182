/** OpenAI chat.completion response: each choice's message carries text as a request message does (§1.2). */
import type { JsonValue } from '../../context.js';
import { isObject } from '../fields.js';
import type { FieldVisitor } from '../types.js';
import { messageFields } from './request.js';

export function responseFields(body: JsonValue, visit: FieldVisitor): void {
  if (!isObject(body) || !Array.isArray(body['choices'])) return;
  body['choices'].forEach((choice, i) => {
    if (isObject(choice) && isObject(choice['message'])) messageFields(visit, choice['message'], `choices[${i}].message`);
  });
}
