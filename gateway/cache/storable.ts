/**
 * Which upstream answers may be stored in the exact cache. A stored answer is served to every
 * later caller with the same request, so anything that is not a complete, successful answer is
 * kept out: error reports (also those sent with HTTP 200, like OpenRouter's mid-stream error
 * chunk with `error` and `finish_reason: "error"`, whatever the field order) and answers cut by
 * an output cap (`finish_reason: "length"`, Anthropic `stop_reason: "max_tokens"`), and Responses
 * API answers that did not complete (`status` other than "completed"; a `response.failed`,
 * `response.incomplete` or `error` stream event).
 */
import type { JsonObject, JsonValue, SseEvent } from '../context.js';

/** Finish reasons that mean the answer is incomplete or failed. */
const UNSTORABLE_REASONS: ReadonlySet<string> = new Set(['length', 'error', 'max_tokens', 'content_filter']);

/**
 * True when `field` (with its quotes) has a string value in UNSTORABLE_REASONS anywhere in `d`.
 * Plain lastIndexOf scans, no regex and no parse: this runs on every chunk of a cacheable stream,
 * and OpenAI chunks carry `finish_reason` at their end. A field name with its quotes cannot match
 * inside answer text, where quotes are escaped (`\"finish_reason\"`).
 */
function hasUnstorableReason(d: string, field: string): boolean {
  let at = d.lastIndexOf(field);
  while (at >= 0) {
    let j = at + field.length;
    let c = d.charCodeAt(j);
    // JSON whitespace and the colon before the value.
    while (c === 58 || c === 32 || c === 9 || c === 10 || c === 13) c = d.charCodeAt(++j);
    if (c === 34 /* " */) {
      const end = d.indexOf('"', j + 1);
      if (end > j && UNSTORABLE_REASONS.has(d.slice(j + 1, end))) return true;
    }
    at = at > 0 ? d.lastIndexOf(field, at - 1) : -1;
  }
  return false;
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Responses API stream events that end a stream without a complete answer. */
const UNSTORABLE_EVENTS: ReadonlySet<string> = new Set(['error', 'response.failed', 'response.incomplete']);
/** The same, as the `type` of an event's data (a stream may omit `event:` lines). */
const UNSTORABLE_TYPES = ['"response.failed"', '"response.incomplete"'] as const;

/** True when a parsed payload reports an error: a non-null `error` member, or `object`/`type` "error". */
function reportsError(v: JsonValue): boolean {
  if (!isObject(v)) return false;
  return (v.error !== undefined && v.error !== null) || v.object === 'error' || v.type === 'error';
}

/**
 * True when one stream event means the stream must not be stored. Cheap on ordinary chunks:
 * two substring scans; JSON is parsed only for an event that mentions `"error"`.
 */
export function eventForbidsStore(e: SseEvent): boolean {
  if (e.event !== undefined && UNSTORABLE_EVENTS.has(e.event)) return true;
  const d = e.data;
  if (d === undefined || d.charCodeAt(0) !== 123 /* { */) return false;
  // Quoted, so answer text (where quotes are escaped) cannot match.
  if (e.event === undefined && UNSTORABLE_TYPES.some((t) => d.includes(t))) return true;
  if (hasUnstorableReason(d, '"finish_reason"')) return true;
  // Anthropic streams name their events; only message_delta carries the stop reason.
  if (e.event === 'message_delta' && hasUnstorableReason(d, '"stop_reason"')) return true;
  if (!d.includes('"error"')) return false;
  try {
    return reportsError(JSON.parse(d) as JsonValue);
  } catch {
    return true;
  }
}

/** True when a JSON answer must not be stored (error member, or a choice/message cut short). */
export function bodyForbidsStore(body: JsonValue): boolean {
  if (!isObject(body)) return true;
  if (reportsError(body)) return true;
  if (typeof body.stop_reason === 'string' && UNSTORABLE_REASONS.has(body.stop_reason)) return true;
  // A Responses API object: only a completed one ("incomplete", "failed", "in_progress"… are not).
  if (body.object === 'response' && body.status !== 'completed') return true;
  const choices = body.choices;
  if (Array.isArray(choices)) {
    for (const c of choices) {
      if (isObject(c) && typeof c.finish_reason === 'string' && UNSTORABLE_REASONS.has(c.finish_reason)) return true;
    }
  }
  return false;
}
