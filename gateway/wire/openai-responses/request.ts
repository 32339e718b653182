/**
 * OpenAI Responses request: where text lives (wire-formats.md §3.1, §3.5).
 * `input` (a string or items): messages (string content or input_text / output_text / refusal
 * parts), function_call arguments (JSON in a string), function_call_output and
 * custom_tool_call(_output) text, reasoning summaries; `instructions`; tool descriptions and
 * parameter schemas; `text.format` schema; `prompt.variables`; `metadata`; `user`.
 * Ids (call_id, previous_response_id), encrypted content and media pass as they are.
 */
import type { JsonObject, JsonValue } from '../../context.js';
import { field, isObject, stringValues } from '../fields.js';
import type { FieldVisitor, ToolSchema } from '../types.js';

/** Parts of a message or tool output: input_text / output_text `text`, refusal `refusal`, input_file `filename`. */
function contentFields(visit: FieldVisitor, holder: JsonObject, key: string, path: string, messageIndex?: number): void {
  const content = holder[key];
  if (typeof content === 'string') field(visit, holder, key, 'text', path, messageIndex);
  else if (Array.isArray(content)) {
    content.forEach((part, j) => {
      if (!isObject(part)) return;
      field(visit, part, 'text', 'text', `${path}[${j}].text`, messageIndex);
      field(visit, part, 'refusal', 'text', `${path}[${j}].refusal`, messageIndex);
      if (part['type'] === 'input_file') field(visit, part, 'filename', 'text', `${path}[${j}].filename`, messageIndex);
      const annotations = part['annotations'];
      if (Array.isArray(annotations)) {
        annotations.forEach((a, k) => {
          if (isObject(a)) for (const key of ['title', 'url', 'filename']) field(visit, a, key, 'text', `${path}[${j}].annotations[${k}].${key}`, messageIndex);
        });
      }
    });
  }
}

/** One input or output item. */
export function itemFields(visit: FieldVisitor, item: JsonObject, path: string, messageIndex?: number): void {
  const type = item['type'];
  if (type === 'message' || (type === undefined && typeof item['role'] === 'string')) {
    contentFields(visit, item, 'content', `${path}.content`, messageIndex);
    return;
  }
  switch (type) {
    case 'function_call': {
      const name = typeof item['name'] === 'string' ? item['name'] : undefined;
      field(visit, item, 'arguments', 'json-string', `${path}.arguments`, messageIndex, name);
      break;
    }
    case 'function_call_output':
    case 'custom_tool_call_output':
      contentFields(visit, item, 'output', `${path}.output`, messageIndex);
      break;
    case 'custom_tool_call':
      field(visit, item, 'input', 'text', `${path}.input`, messageIndex);
      break;
    case 'reasoning':
      for (const list of ['summary', 'content'] as const) {
        const parts = item[list];
        if (Array.isArray(parts)) parts.forEach((p, j) => isObject(p) && field(visit, p, 'text', 'text', `${path}.${list}[${j}].text`, messageIndex));
      }
      break;
    default:
      break;
  }
}

export function requestFields(body: JsonObject, visit: FieldVisitor): void {
  const input = body['input'];
  if (typeof input === 'string') field(visit, body, 'input', 'text', 'input', 0);
  else if (Array.isArray(input)) input.forEach((item, i) => isObject(item) && itemFields(visit, item, `input[${i}]`, i));
  field(visit, body, 'instructions', 'text', 'instructions');
  const tools = body['tools'];
  if (Array.isArray(tools)) {
    tools.forEach((t, i) => {
      if (!isObject(t)) return;
      field(visit, t, 'description', 'text', `tools[${i}].description`);
      field(visit, t, 'parameters', 'schema', `tools[${i}].parameters`);
      const loc = t['user_location'];
      if (isObject(loc)) for (const k of ['city', 'region', 'country', 'timezone']) field(visit, loc, k, 'text', `tools[${i}].user_location.${k}`);
    });
  }
  const text = body['text'];
  const format = isObject(text) ? text['format'] : undefined;
  if (isObject(format)) {
    field(visit, format, 'description', 'text', 'text.format.description');
    field(visit, format, 'schema', 'schema', 'text.format.schema');
  }
  const prompt = body['prompt'];
  if (isObject(prompt)) stringValues(visit, prompt['variables'], 'prompt.variables');
  stringValues(visit, body['metadata'], 'metadata');
  field(visit, body, 'user', 'text', 'user');
  field(visit, body, 'safety_identifier', 'text', 'safety_identifier');
}

export function toolSchemas(body: JsonObject): Map<string, ToolSchema> {
  const out = new Map<string, ToolSchema>();
  const tools = body['tools'];
  if (Array.isArray(tools)) {
    for (const t of tools as JsonValue[]) {
      if (isObject(t) && t['type'] === 'function' && typeof t['name'] === 'string') {
        out.set(t['name'], { schema: t['parameters'], strict: t['strict'] === true });
      }
    }
  }
  return out;
}
