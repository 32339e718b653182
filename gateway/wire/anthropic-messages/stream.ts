/**
 * Anthropic Messages stream (§2.3): per content block `index`, `text_delta.text` is a text
 * channel and `input_json_delta.partial_json` a JSON channel; a text block may start with text
 * in `content_block_start`, and a tool_use block's `input` there is a whole JSON value. A block's
 * channels end at `content_block_stop`; all end at `message_delta` / `message_stop`.
 * Thinking deltas stay as written (signed).
 */
import type { JsonObject, SseEvent } from '../../context.js';
import { field, isObject } from '../fields.js';
import type { StreamEventFields, StreamMap, TextField } from '../types.js';

function fields(payload: JsonObject): StreamEventFields | undefined {
  const type = payload['type'];
  const index = typeof payload['index'] === 'number' ? payload['index'] : 0;
  switch (type) {
    case 'content_block_start': {
      const block = payload['content_block'];
      if (!isObject(block)) return undefined;
      if (block['type'] === 'text' && typeof block['text'] === 'string' && block['text'].length > 0) {
        return { fragments: [{ holder: block, key: 'text', channel: `${index}:text`, json: false }], whole: [] };
      }
      const whole: TextField[] = [];
      if (block['type'] === 'tool_use' || block['type'] === 'server_tool_use') field((f) => whole.push(f), block, 'input', 'json', 'content_block.input');
      return whole.length > 0 ? { fragments: [], whole } : undefined;
    }
    case 'content_block_delta': {
      const delta = payload['delta'];
      if (!isObject(delta)) return undefined;
      if (delta['type'] === 'text_delta' && typeof delta['text'] === 'string') {
        return { fragments: [{ holder: delta, key: 'text', channel: `${index}:text`, json: false }], whole: [] };
      }
      if (delta['type'] === 'input_json_delta' && typeof delta['partial_json'] === 'string') {
        return { fragments: [{ holder: delta, key: 'partial_json', channel: `${index}:json`, json: true }], whole: [] };
      }
      return undefined;
    }
    case 'content_block_stop':
      return { fragments: [], ends: [`${index}:`], whole: [] };
    case 'message_delta':
    case 'message_stop':
      return { fragments: [], ends: [''], whole: [] };
    default:
      return undefined;
  }
}

function fragmentEvent(channel: string, text: string): SseEvent {
  const [indexText, kind] = channel.split(':') as [string, string];
  const index = Number(indexText);
  const delta = kind === 'json' ? { type: 'input_json_delta', partial_json: text } : { type: 'text_delta', text };
  return { event: 'content_block_delta', data: JSON.stringify({ type: 'content_block_delta', index, delta }) };
}

export const stream: StreamMap = { fields: (payload) => fields(payload), fragmentEvent };
