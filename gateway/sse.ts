/**
 * Server-Sent Events: an incremental parser over upstream bytes and a serializer for the client.
 * Data text is kept exactly as the upstream sent it; only framing is normalised.
 */
import type { SseEvent } from './context.js';

/** Parses an SSE byte stream into events, yielding each as soon as its blank line arrives. */
export async function* parseSse(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<SseEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string | undefined;
  let event: string | undefined;
  let id: string | undefined;

  // A plain function, not a generator: a line completes at most one event, and this runs per line.
  const takeLine = (line: string): SseEvent | undefined => {
    if (line === '') {
      let out: SseEvent | undefined;
      // Per the SSE spec an event without data lines is not dispatched (it would go out as an empty `data:`).
      if (data !== undefined) {
        out = { data };
        if (event !== undefined) out.event = event;
        if (id !== undefined) out.id = id;
      }
      data = undefined;
      event = undefined;
      id = undefined;
      return out;
    }
    if (line.charCodeAt(0) === 58 /* ':' */) {
      // A comment is a keep-alive: pass it on at once so idle timers downstream reset too.
      return { comment: line.slice(1) };
    }
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') data = data === undefined ? value : `${data}\n${value}`;
    else if (field === 'event') event = value;
    else if (field === 'id') id = value;
    return undefined;
  };

  for await (const chunk of body) {
    buffer += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    let start = 0;
    let nl: number;
    while ((nl = buffer.indexOf('\n', start)) !== -1) {
      const end = nl > start && buffer.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
      const out = takeLine(buffer.slice(start, end));
      if (out) yield out;
      start = nl + 1;
    }
    buffer = start === 0 ? buffer : buffer.slice(start);
  }
  buffer += decoder.decode();
  const last = buffer.length > 0 ? takeLine(buffer.endsWith('\r') ? buffer.slice(0, -1) : buffer) : undefined;
  if (last) yield last;
  // A stream that ends without the final blank line still delivers its last event.
  const pending = takeLine('');
  if (pending) yield pending;
}

export function serializeSse(e: SseEvent): string {
  if (e.data === undefined) return `:${e.comment ?? ''}\n\n`;
  let out = '';
  if (e.event !== undefined) out += `event: ${e.event}\n`;
  if (e.id !== undefined) out += `id: ${e.id}\n`;
  if (e.data.includes('\n')) {
    for (const line of e.data.split('\n')) out += `data: ${line}\n`;
  } else {
    out += `data: ${e.data}\n`;
  }
  return `${out}\n`;
}
