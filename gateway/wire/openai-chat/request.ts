/**
 * OpenAI Chat Completions request: where text lives (wire-formats.md §1.1, §1.5).
 * Messages: `content` (string or text/refusal parts), `name`, `refusal`, reasoning, tool-call
 * arguments (JSON in a string), custom tool input, legacy `function_call`. Top level: tool and
 * legacy function descriptions and parameter schemas, `response_format` schema, `prediction`,
 * `stop`, `user`, `safety_identifier`, `metadata`, web-search user location.
 * Identifiers (ids, tool names, tool_choice) and media (image/audio data) are not text.
 */
import type { JsonObject, JsonValue } from '../../context.js';
import { field, isObject, stringOrStrings, stringValues } from '../fields.js';
import type { FieldVisitor, ToolSchema } from '../types.js';

/** `content` as a string or as parts; text and refusal parts carry text, and a file part's name. */
export function contentField(visit: FieldVisitor, holder: JsonObject, key: string, path: string, messageIndex?: number): void {
  const content = holder[key];
  if (typeof content === 'string') field(visit, holder, key, 'text', path, messageIndex);
  else if (Array.isArray(content)) {
    content.forEach((part, j) => {
      if (!isObject(part)) return;
      field(visit, part, 'text', 'text', `${path}[${j}].text`, messageIndex);
      field(visit, part, 'refusal', 'text', `${path}[${j}].refusal`, messageIndex);
      const file = part['file'];
      if (isObject(file)) field(visit, file, 'filename', 'text', `${path}[${j}].file.filename`, messageIndex);
    });
  }
}

/** Fields of one assistant-style message (request history or response choice). */
export function messageFields(visit: FieldVisitor, m: JsonObject, path: string, messageIndex?: number): void {
  contentField(visit, m, 'content', `${path}.content`, messageIndex);
  for (const key of ['name', 'refusal', 'reasoning_content', 'reasoning'] as const) field(visit, m, key, 'text', `${path}.${key}`, messageIndex);
  const calls = m['tool_calls'];
  if (Array.isArray(calls)) {
    calls.forEach((call, k) => {
      if (!isObject(call)) return;
      const fn = call['function'];
      if (isObject(fn)) {
        const name = typeof fn['name'] === 'string' ? fn['name'] : undefined;
        field(visit, fn, 'arguments', 'json-string', `${path}.tool_calls[${k}].function.arguments`, messageIndex, name);
      }
      const custom = call['custom'];
      if (isObject(custom)) field(visit, custom, 'input', 'text', `${path}.tool_calls[${k}].custom.input`, messageIndex);
    });
  }
  const legacy = m['function_call'];
  if (isObject(legacy)) {
    const name = typeof legacy['name'] === 'string' ? legacy['name'] : undefined;
    field(visit, legacy, 'arguments', 'json-string', `${path}.function_call.arguments`, messageIndex, name);
  }
  // Web-search citations in answers (their character offsets point into the masked text).
  const annotations = m['annotations'];
  if (Array.isArray(annotations)) {
    annotations.forEach((a, k) => {
      const c = isObject(a) ? a['url_citation'] : undefined;
      if (isObject(c)) for (const key of ['title', 'url', 'content']) field(visit, c, key, 'text', `${path}.annotations[${k}].url_citation.${key}`, messageIndex);
    });
  }
}

/** A function definition: `{name, description, parameters}` (tools[].function, functions[]). */
function functionDefinition(visit: FieldVisitor, fn: JsonObject, path: string): void {
  field(visit, fn, 'description', 'text', `${path}.description`);
  field(visit, fn, 'parameters', 'schema', `${path}.parameters`);
}

export function requestFields(body: JsonObject, visit: FieldVisitor): void {
  const messages = body['messages'];
  if (Array.isArray(messages)) {
    messages.forEach((m, i) => {
      if (isObject(m)) messageFields(visit, m, `messages[${i}]`, i);
    });
  }
  const tools = body['tools'];
  if (Array.isArray(tools)) {
    tools.forEach((t, i) => {
      if (!isObject(t)) return;
      if (isObject(t['function'])) functionDefinition(visit, t['function'], `tools[${i}].function`);
      const custom = t['custom'];
      if (isObject(custom)) {
        field(visit, custom, 'description', 'text', `tools[${i}].custom.description`);
        const grammar = isObject(custom['format']) ? custom['format']['grammar'] : undefined;
        if (isObject(grammar)) field(visit, grammar, 'definition', 'text', `tools[${i}].custom.format.grammar.definition`);
      }
    });
  }
  const functions = body['functions'];
  if (Array.isArray(functions)) functions.forEach((fn, i) => isObject(fn) && functionDefinition(visit, fn, `functions[${i}]`));
  const rf = body['response_format'];
  const js = isObject(rf) ? rf['json_schema'] : undefined;
  if (isObject(js)) {
    field(visit, js, 'description', 'text', 'response_format.json_schema.description');
    field(visit, js, 'schema', 'schema', 'response_format.json_schema.schema');
  }
  const prediction = body['prediction'];
  if (isObject(prediction)) contentField(visit, prediction, 'content', 'prediction.content');
  stringOrStrings(visit, body, 'stop', 'stop');
  field(visit, body, 'user', 'text', 'user');
  field(visit, body, 'safety_identifier', 'text', 'safety_identifier');
  stringValues(visit, body['metadata'], 'metadata');
  const wso = body['web_search_options'];
  const loc = isObject(wso) && isObject(wso['user_location']) ? wso['user_location']['approximate'] : undefined;
  stringValues(visit, loc, 'web_search_options.user_location.approximate');
}

export function toolSchemas(body: JsonObject): Map<string, ToolSchema> {
  const out = new Map<string, ToolSchema>();
  const add = (fn: JsonValue | undefined) => {
    if (isObject(fn) && typeof fn['name'] === 'string') out.set(fn['name'], { schema: fn['parameters'], strict: fn['strict'] === true });
  };
  const tools = body['tools'];
  if (Array.isArray(tools)) for (const t of tools) if (isObject(t)) add(t['function']);
  const functions = body['functions'];
  if (Array.isArray(functions)) for (const fn of functions) add(fn);
  return out;
}
