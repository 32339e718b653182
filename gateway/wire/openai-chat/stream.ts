/**
 * OpenAI chat.completion.chunk stream (§1.3): per choice, `delta.content`, `refusal`,
 * `reasoning_content`, `reasoning` are text channels; each tool call's `function.arguments`
 * (by tool-call `index`) and the legacy `function_call.arguments` are JSON channels. A choice's
 * channels end at its `finish_reason`; every channel ends at `[DONE]`. Content held back when
 * tool calls start goes out in a chunk of its own first (Goose drops content sharing a chunk
 * with tool_calls).
 */
import type { JsonObject, SseEvent } from '../../context.js';
import { isObject } from '../fields.js';
import type { StreamEventFields, StreamFragment, StreamMap, TextField } from '../types.js';

const TEXT_KEYS = ['content', 'refusal', 'reasoning_content', 'reasoning'] as const;
const NO_FIELDS: TextField[] = [];

function fields(payload: JsonObject): StreamEventFields | undefined {
  const choices = payload['choices'];
  if (!Array.isArray(choices) || choices.length === 0) return undefined;
  const fragments: StreamFragment[] = [];
  let ends: string[] | undefined;
  let releaseBefore: string[] | undefined;
  for (const choice of choices) {
    if (!isObject(choice)) continue;
    const c = typeof choice['index'] === 'number' ? choice['index'] : 0;
    const delta = choice['delta'];
    if (isObject(delta)) {
      for (const key of TEXT_KEYS) {
        if (typeof delta[key] === 'string') fragments.push({ holder: delta, key, channel: `${c}:${key}`, json: false });
      }
      const calls = delta['tool_calls'];
      if (Array.isArray(calls)) {
        (releaseBefore ??= []).push(`${c}:content`);
        for (const call of calls) {
          if (!isObject(call)) continue;
          const fn = call['function'];
          const k = typeof call['index'] === 'number' ? call['index'] : 0;
          if (isObject(fn) && typeof fn['arguments'] === 'string') fragments.push({ holder: fn, key: 'arguments', channel: `${c}:tool:${k}`, json: true });
        }
      }
      const legacy = delta['function_call'];
      if (isObject(legacy)) {
        (releaseBefore ??= []).push(`${c}:content`);
        if (typeof legacy['arguments'] === 'string') fragments.push({ holder: legacy, key: 'arguments', channel: `${c}:fc`, json: true });
      }
    }
    if (choice['finish_reason'] != null) (ends ??= []).push(`${c}:`);
  }
  return { fragments, ...(ends ? { ends } : {}), ...(releaseBefore ? { releaseBefore } : {}), whole: NO_FIELDS };
}

/** A chunk with the stream's envelope (id, model...) and one channel's text for one choice. */
function fragmentEvent(channel: string, text: string, last: JsonObject): SseEvent {
  const [choiceText, kind, callText] = channel.split(':') as [string, string, string | undefined];
  const index = Number(choiceText);
  let delta: JsonObject;
  if (kind === 'tool') delta = { tool_calls: [{ index: Number(callText), function: { arguments: text } }] };
  else if (kind === 'fc') delta = { function_call: { arguments: text } };
  else delta = { [kind]: text };
  const chunk: JsonObject = {};
  for (const key of ['id', 'object', 'created', 'model', 'system_fingerprint'] as const) {
    const v = last[key];
    if (v !== undefined) chunk[key] = v;
  }
  chunk['choices'] = [{ index, delta, finish_reason: null }];
  return { data: JSON.stringify(chunk) };
}

export const stream: StreamMap = {
  fields: (payload) => fields(payload),
  fragmentEvent,
  isTerminal: (data) => data === '[DONE]',
};
