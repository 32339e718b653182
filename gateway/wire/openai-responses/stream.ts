/**
 * OpenAI Responses stream (§3.3). Text channels per output item (`item_id`) and part:
 * `response.output_text.delta`, `response.refusal.delta`, `response.reasoning_summary_text.delta`,
 * `response.custom_tool_call_input.delta`; JSON channel `response.function_call_arguments.delta`.
 * A channel ends at its `*.done` event, whose complete text is restored whole; items in
 * `output_item.added/done`, parts in `content_part.added/done` and the `response` of lifecycle
 * events (created, in_progress, completed...) are restored whole too, so every copy of a text
 * reads the same.
 */
import type { JsonObject, SseEvent } from '../../context.js';
import { field, isObject } from '../fields.js';
import type { StreamEventFields, StreamMap, TextField } from '../types.js';
import { itemFields } from './request.js';
import { responseFields } from './response.js';

/** Delta event type → channel suffix, whether JSON, and the key of the full text in its done event. */
const DELTAS: Record<string, { channel: string; json: boolean; doneKey: string }> = {
  'response.output_text': { channel: 'text', json: false, doneKey: 'text' },
  'response.refusal': { channel: 'refusal', json: false, doneKey: 'refusal' },
  'response.reasoning_summary_text': { channel: 'summary', json: false, doneKey: 'text' },
  'response.custom_tool_call_input': { channel: 'input', json: false, doneKey: 'input' },
  'response.function_call_arguments': { channel: 'args', json: true, doneKey: 'arguments' },
};

function channelOf(payload: JsonObject, suffix: string): string {
  const item = typeof payload['item_id'] === 'string' ? payload['item_id'] : String(payload['output_index'] ?? 0);
  const part = payload['content_index'] ?? payload['summary_index'] ?? 0;
  return `${item}:${String(part)}:${suffix}`;
}

function fields(payload: JsonObject): StreamEventFields | undefined {
  const type = payload['type'];
  if (typeof type !== 'string') return undefined;
  const whole: TextField[] = [];
  const collect = (f: TextField) => whole.push(f);
  if (type.endsWith('.delta')) {
    const d = DELTAS[type.slice(0, -'.delta'.length)];
    if (!d || typeof payload['delta'] !== 'string') return undefined;
    return { fragments: [{ holder: payload, key: 'delta', channel: channelOf(payload, d.channel), json: d.json }], whole };
  }
  if (type.endsWith('.done') && DELTAS[type.slice(0, -'.done'.length)]) {
    const d = DELTAS[type.slice(0, -'.done'.length)]!;
    field(collect, payload, d.doneKey, d.json ? 'json-string' : 'text', d.doneKey);
    return { fragments: [], ends: [channelOf(payload, d.channel)], whole };
  }
  switch (type) {
    case 'response.output_item.added':
    case 'response.output_item.done': {
      const item = payload['item'];
      if (isObject(item)) itemFields(collect, item, 'item');
      const id = isObject(item) && typeof item['id'] === 'string' ? item['id'] : undefined;
      return { fragments: [], ...(type.endsWith('.done') && id ? { ends: [`${id}:`] } : {}), whole };
    }
    case 'response.content_part.added':
    case 'response.content_part.done':
    case 'response.reasoning_summary_part.added':
    case 'response.reasoning_summary_part.done': {
      const part = payload['part'];
      if (isObject(part)) {
        field(collect, part, 'text', 'text', 'part.text');
        field(collect, part, 'refusal', 'text', 'part.refusal');
      }
      return { fragments: [], whole };
    }
    case 'response.output_text.annotation.added': {
      const annotation = payload['annotation'];
      if (isObject(annotation)) for (const key of ['title', 'url', 'filename']) field(collect, annotation, key, 'text', `annotation.${key}`);
      return { fragments: [], whole };
    }
    case 'response.created':
    case 'response.in_progress':
    case 'response.queued':
    case 'response.completed':
    case 'response.failed':
    case 'response.incomplete':
    case 'response.done': {
      const response = payload['response'];
      if (response !== undefined) responseFields(response, collect);
      const final = type !== 'response.created' && type !== 'response.in_progress' && type !== 'response.queued';
      return { fragments: [], ...(final ? { ends: [''] } : {}), whole };
    }
    default:
      return undefined;
  }
}

const DELTA_TYPE: Record<string, string> = {
  text: 'response.output_text.delta',
  refusal: 'response.refusal.delta',
  summary: 'response.reasoning_summary_text.delta',
  input: 'response.custom_tool_call_input.delta',
  args: 'response.function_call_arguments.delta',
};

/** The delta event of `channel`, with the addressing fields (item, output index, part) of its last delta. */
function fragmentEvent(channel: string, text: string, last: JsonObject): SseEvent {
  const suffix = channel.slice(channel.lastIndexOf(':') + 1);
  const type = DELTA_TYPE[suffix] ?? 'response.output_text.delta';
  const event: JsonObject = { type };
  for (const key of ['sequence_number', 'item_id', 'output_index', 'content_index', 'summary_index'] as const) {
    const v = last[key];
    if (v !== undefined) event[key] = v;
  }
  event['delta'] = text;
  return { event: type, data: JSON.stringify(event) };
}

export const stream: StreamMap = {
  fields: (payload) => fields(payload),
  fragmentEvent,
  isTerminal: (data) => data === '[DONE]',
};
