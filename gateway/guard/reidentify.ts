/**
 * Non-stream re-identification: puts the real values back into a complete answer before the
 * client sees it — OpenAI choices (content, content parts, reasoning, tool-call arguments with
 * JSON escaping) and Anthropic content blocks (text, tool_use input). Uses the same matcher as
 * the streaming path, so both give the same text. Thinking blocks stay as written (signed).
 */
import type { JsonObject, JsonValue } from '../context.js';
import { reidentifyText, type PseudonymMatcher } from './reidentify-stream.js';

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Rewrites `holder[key]` when it is a string holding a pseudonym; true when it changed. */
function restoreField(holder: JsonObject, key: string, matcher: PseudonymMatcher, jsonEscape = false): boolean {
  const v = holder[key];
  if (typeof v !== 'string') return false;
  const out = reidentifyText(matcher, v, jsonEscape);
  if (out === v) return false;
  holder[key] = out;
  return true;
}

/** Every string value inside a JSON value (tool_use input); keys stay as they are. */
function restoreJsonStrings(value: JsonValue, matcher: PseudonymMatcher): boolean {
  let changed = false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i]!;
      if (typeof item === 'string') {
        const out = reidentifyText(matcher, item);
        if (out !== item) ((value[i] = out), (changed = true));
      } else if (restoreJsonStrings(item, matcher)) changed = true;
    }
  } else if (isObject(value)) {
    for (const k of Object.keys(value)) {
      if (typeof value[k] === 'string') {
        if (restoreField(value, k, matcher)) changed = true;
      } else if (restoreJsonStrings(value[k]!, matcher)) changed = true;
    }
  }
  return changed;
}

/** OpenAI chat.completion body, in place; true when anything changed. */
export function reidentifyOpenAiBody(body: JsonValue, matcher: PseudonymMatcher): boolean {
  if (!isObject(body) || !Array.isArray(body['choices'])) return false;
  let changed = false;
  for (const choice of body['choices']) {
    const message = isObject(choice) ? choice['message'] : undefined;
    if (!isObject(message)) continue;
    const content = message['content'];
    if (typeof content === 'string') changed = restoreField(message, 'content', matcher) || changed;
    else if (Array.isArray(content)) {
      for (const part of content) if (isObject(part)) changed = restoreField(part, 'text', matcher) || changed;
    }
    changed = restoreField(message, 'reasoning_content', matcher) || changed;
    changed = restoreField(message, 'reasoning', matcher) || changed;
    const calls = message['tool_calls'];
    if (Array.isArray(calls)) {
      for (const call of calls) {
        const fn = isObject(call) ? call['function'] : undefined;
        if (isObject(fn)) changed = restoreField(fn, 'arguments', matcher, true) || changed;
      }
    }
    const legacy = message['function_call'];
    if (isObject(legacy)) changed = restoreField(legacy, 'arguments', matcher, true) || changed;
  }
  return changed;
}

/** Anthropic message body, in place; true when anything changed. */
export function reidentifyAnthropicBody(body: JsonValue, matcher: PseudonymMatcher): boolean {
  if (!isObject(body) || !Array.isArray(body['content'])) return false;
  let changed = false;
  for (const block of body['content']) {
    if (!isObject(block)) continue;
    if (block['type'] === 'text') changed = restoreField(block, 'text', matcher) || changed;
    else if (block['type'] === 'tool_use' && block['input'] !== undefined) changed = restoreJsonStrings(block['input'], matcher) || changed;
  }
  return changed;
}
