/**
 * Anthropic Messages request: where text lives (wire-formats.md §2.1, §2.4).
 * `system` (string or text blocks); message content (string or blocks): text, tool_use /
 * server_tool_use input (a JSON object), tool_result content (string or nested blocks),
 * document blocks with a text or content source plus their title and context, search_result
 * blocks (source, title, content). Tool descriptions, input schemas and input examples;
 * `metadata.user_id`; `stop_sequences`. Thinking blocks are signed over their exact text and
 * were written by the upstream from masked input: they pass untouched. Images are not text.
 */
import type { JsonObject, JsonValue } from '../../context.js';
import { field, isObject, stringOrStrings } from '../fields.js';
import type { FieldVisitor, ToolSchema } from '../types.js';

/** Content blocks (message content, system, tool_result content, document/search_result content). */
export function blockFields(visit: FieldVisitor, blocks: JsonValue[], path: string, messageIndex?: number): void {
  blocks.forEach((block, j) => {
    if (!isObject(block)) return;
    const at = `${path}[${j}]`;
    switch (block['type']) {
      case 'text': {
        field(visit, block, 'text', 'text', `${at}.text`, messageIndex);
        const citations = block['citations'];
        if (Array.isArray(citations)) {
          citations.forEach((c, k) => {
            if (isObject(c)) for (const key of ['cited_text', 'document_title', 'title']) field(visit, c, key, 'text', `${at}.citations[${k}].${key}`, messageIndex);
          });
        }
        break;
      }
      case 'tool_use':
      case 'server_tool_use': {
        const name = typeof block['name'] === 'string' ? block['name'] : undefined;
        field(visit, block, 'input', 'json', `${at}.input`, messageIndex, name);
        break;
      }
      case 'tool_result':
        contentFields(visit, block, 'content', `${at}.content`, messageIndex);
        break;
      case 'document': {
        const source = block['source'];
        if (isObject(source)) {
          if (source['type'] === 'text') field(visit, source, 'data', 'text', `${at}.source.data`, messageIndex);
          else if (source['type'] === 'content') contentFields(visit, source, 'content', `${at}.source.content`, messageIndex);
        }
        field(visit, block, 'title', 'text', `${at}.title`, messageIndex);
        field(visit, block, 'context', 'text', `${at}.context`, messageIndex);
        break;
      }
      case 'search_result':
        field(visit, block, 'source', 'text', `${at}.source`, messageIndex);
        field(visit, block, 'title', 'text', `${at}.title`, messageIndex);
        contentFields(visit, block, 'content', `${at}.content`, messageIndex);
        break;
      default:
        break;
    }
  });
}

/** A string or an array of blocks at `holder[key]`. */
function contentFields(visit: FieldVisitor, holder: JsonObject, key: string, path: string, messageIndex?: number): void {
  const content = holder[key];
  if (typeof content === 'string') field(visit, holder, key, 'text', path, messageIndex);
  else if (Array.isArray(content)) blockFields(visit, content, path, messageIndex);
}

export function requestFields(body: JsonObject, visit: FieldVisitor): void {
  contentFields(visit, body, 'system', 'system');
  const messages = body['messages'];
  if (Array.isArray(messages)) {
    messages.forEach((m, i) => {
      if (isObject(m)) contentFields(visit, m, 'content', `messages[${i}].content`, i);
    });
  }
  const tools = body['tools'];
  if (Array.isArray(tools)) {
    tools.forEach((t, i) => {
      if (!isObject(t)) return;
      field(visit, t, 'description', 'text', `tools[${i}].description`);
      field(visit, t, 'input_schema', 'schema', `tools[${i}].input_schema`);
      field(visit, t, 'input_examples', 'json', `tools[${i}].input_examples`);
      const loc = t['user_location'];
      if (isObject(loc)) for (const k of ['city', 'region', 'country', 'timezone']) field(visit, loc, k, 'text', `tools[${i}].user_location.${k}`);
    });
  }
  const metadata = body['metadata'];
  if (isObject(metadata)) field(visit, metadata, 'user_id', 'text', 'metadata.user_id');
  stringOrStrings(visit, body, 'stop_sequences', 'stop_sequences');
  const oc = body['output_config'];
  const format = isObject(oc) ? oc['format'] : undefined;
  if (isObject(format)) field(visit, format, 'schema', 'schema', 'output_config.format.schema');
}

export function toolSchemas(body: JsonObject): Map<string, ToolSchema> {
  const out = new Map<string, ToolSchema>();
  const tools = body['tools'];
  if (Array.isArray(tools)) {
    for (const t of tools) {
      if (isObject(t) && typeof t['name'] === 'string') out.set(t['name'], { schema: t['input_schema'], strict: t['strict'] === true });
    }
  }
  return out;
}
