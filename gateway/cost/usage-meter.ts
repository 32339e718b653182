/**
 * Collects token usage from a response as it passes: the JSON body's `usage`, or the usage an
 * SSE stream carries (OpenAI's final `choices: []` chunk, Anthropic's message_start and
 * message_delta events, the Responses API's `response.completed`). Per chunk it does one substring check; only chunks that carry usage
 * are parsed.
 */
import type { JsonObject, JsonValue, SseEvent } from '../context.js';
import { readUsage, type TokenUsage } from './pricing.js';

/** Accumulated usage for one response. Counters are cumulative upstream, so the maximum wins. */
export class UsageMeter {
  usage: TokenUsage | undefined;
  /** Data events seen (a rough completion-size signal when a stream is cut before its usage). */
  dataEvents = 0;
  /** Model the upstream says answered (from the usage-bearing chunk). */
  answeredModel: string | undefined;

  add(u: TokenUsage): void {
    const cur = this.usage;
    if (!cur) {
      this.usage = { ...u };
      return;
    }
    cur.promptTokens = Math.max(cur.promptTokens, u.promptTokens);
    cur.completionTokens = Math.max(cur.completionTokens, u.completionTokens);
    cur.cachedTokens = Math.max(cur.cachedTokens, u.cachedTokens);
    cur.cacheWriteTokens = Math.max(cur.cacheWriteTokens, u.cacheWriteTokens);
    if (u.reportedCostUsd !== undefined) cur.reportedCostUsd = u.reportedCostUsd;
  }

  /** Reads `usage` from a non-stream JSON response body (OpenAI or Anthropic shape). */
  fromBody(body: JsonValue): void {
    if (!body || typeof body !== 'object' || Array.isArray(body)) return;
    const u = readUsage(body.usage);
    if (u) this.add(u);
    if (typeof body.model === 'string') this.answeredModel = body.model;
  }
}

/** True when an SSE data payload has a non-null "usage" key (cheap: no parse). */
export function mentionsUsage(data: string): boolean {
  let i = data.indexOf('"usage"');
  while (i !== -1) {
    let j = i + 7;
    while (data.charCodeAt(j) === 32) j++;
    if (data.charCodeAt(j) === 58 /* : */) {
      j++;
      while (data.charCodeAt(j) === 32) j++;
      if (!data.startsWith('null', j)) return true;
    }
    i = data.indexOf('"usage"', j);
  }
  return false;
}

function asObject(v: JsonValue | undefined): JsonObject | undefined {
  return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
}

/**
 * Wraps an SSE event stream: records usage into `meter` and, when `hideUsageChunk` is set (the
 * gateway asked for usage the client did not), drops OpenAI's extra `choices: []` usage chunk
 * and strips `usage` from a content chunk that carries it.
 */
export async function* meterSseEvents(events: AsyncIterable<SseEvent>, meter: UsageMeter, hideUsageChunk: boolean): AsyncGenerator<SseEvent> {
  for await (const e of events) {
    const data = e.data;
    if (data === undefined) {
      yield e;
      continue;
    }
    meter.dataEvents++;
    if (!(e.event === 'message_start' || e.event === 'message_delta' || mentionsUsage(data))) {
      yield e;
      continue;
    }
    let parsed: JsonObject | undefined;
    try {
      parsed = asObject(JSON.parse(data) as JsonValue);
    } catch {
      parsed = undefined;
    }
    if (!parsed) {
      yield e;
      continue;
    }
    // Anthropic nests it in `message`, the Responses API in `response`.
    const message = asObject(parsed.message) ?? asObject(parsed.response);
    const u = readUsage(parsed.usage) ?? readUsage(message?.usage);
    if (u) meter.add(u);
    const model = parsed.model ?? message?.model;
    if (typeof model === 'string') meter.answeredModel = model;
    if (hideUsageChunk && parsed.usage !== undefined && Array.isArray(parsed.choices)) {
      if (parsed.choices.length === 0) continue;
      delete parsed.usage;
      yield { ...e, data: JSON.stringify(parsed) };
      continue;
    }
    yield e;
  }
}
