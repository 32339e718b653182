/**
 * Turning responses into cache entries and back. A stream is stored as its events and
 * replayed as the same events (same chunk shape, usage chunk included); a JSON body as its
 * text. Each replay swaps the original completion id for a fresh one, because clients such
 * as Goose group streamed text by message id and two answers must not share one.
 */
import { randomUUID } from 'node:crypto';
import type { GatewayResponse, JsonValue, SseEvent } from '../context.js';
import type { CachedResponse } from './exact-cache.js';

export const CACHE_HEADER = 'x-switchboard-cache';

/** The completion id of a response: OpenAI `id`, Anthropic `message.id` in message_start, Responses `response.id` in its events. */
export function responseIdOf(value: JsonValue | undefined): string | undefined {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return undefined;
  if (typeof value.id === 'string' && value.id.length >= 8) return value.id;
  // Anthropic message_start carries it in `message`, Responses API events in `response`.
  for (const holder of [value.message, value.response]) {
    if (holder && typeof holder === 'object' && !Array.isArray(holder) && typeof holder.id === 'string' && holder.id.length >= 8) return holder.id;
  }
  return undefined;
}

/** Same prefix as the original (`chatcmpl-`, `gen-`, `msg_`), fresh random remainder. */
export function freshIdLike(original: string): string {
  const prefix = /^[A-Za-z]+[-_]/.exec(original)?.[0] ?? 'cache-';
  // randomUUID draws from a cached entropy pool: far cheaper per call than randomBytes.
  return `${prefix}${randomUUID().replaceAll('-', '').slice(0, 24)}`;
}

/**
 * True for the event that ends a successful stream (OpenAI `[DONE]`, Anthropic `message_stop`,
 * Responses API `response.completed`).
 */
export function isStreamEnd(e: SseEvent): boolean {
  return e.data === '[DONE]' || e.event === 'message_stop' || e.event === 'response.completed';
}

export function replayResponse(entry: CachedResponse): GatewayResponse {
  const from = entry.responseId;
  const to = from ? freshIdLike(from) : undefined;
  const swap = (text: string) => (from && to ? text.replaceAll(from, to) : text);
  const headers = { 'content-type': entry.contentType, [CACHE_HEADER]: 'hit' };
  if (entry.kind === 'json') {
    const text = swap(entry.body ?? '');
    const bytes = Buffer.from(text, 'utf8');
    return { kind: 'json', status: entry.status, headers, body: JSON.parse(text) as JsonValue, bytes };
  }
  const stored = entry.events ?? [];
  return { kind: 'sse', status: entry.status, headers, events: replayEvents(stored, swap) };
}

async function* replayEvents(stored: readonly SseEvent[], swap: (text: string) => string): AsyncGenerator<SseEvent> {
  for (const e of stored) {
    const out: SseEvent = {};
    if (e.event !== undefined) out.event = e.event;
    if (e.id !== undefined) out.id = e.id;
    if (e.data !== undefined) out.data = swap(e.data);
    yield out;
  }
}
