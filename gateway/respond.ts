/**
 * Writes a GatewayResponse to the client. Streams go out event by event with backpressure;
 * an upstream that dies mid-stream becomes a well-formed error event and a clean close.
 */
import type { ServerResponse } from 'node:http';
import type { GatewayResponse, WireFormat } from './context.js';
import { serializeSse } from './sse.js';

export interface WriteResult {
  completed: boolean;
  clientAborted: boolean;
  error?: string;
}

/** The error frame each wire format's clients understand mid-stream. */
export function streamErrorFrame(format: WireFormat, message: string): string {
  if (format === 'anthropic') {
    return serializeSse({ event: 'error', data: JSON.stringify({ type: 'error', error: { type: 'api_error', message } }) });
  }
  // Goose and the OpenAI SDK read a data payload with an `error` key as a server error.
  return serializeSse({ data: JSON.stringify({ error: { message, type: 'upstream_error', code: 'stream_interrupted' } }) });
}

/** Resolves on `event` or on 'close', whichever comes first (a closed socket never drains or finishes). */
export function eventOrClose(res: ServerResponse, event: 'drain' | 'finish'): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off(event, done);
      res.off('close', done);
      resolve();
    };
    res.on(event, done);
    res.on('close', done);
  });
}

export async function writeResponse(
  res: ServerResponse,
  response: GatewayResponse,
  format: WireFormat,
  extraHeaders: Record<string, string>,
): Promise<WriteResult> {
  if (response.kind !== 'sse') {
    const body =
      response.kind === 'raw'
        ? response.body
        : (response.bytes ?? Buffer.from(JSON.stringify(response.body)));
    res.writeHead(response.status, {
      ...response.headers,
      ...(response.kind === 'json' ? { 'content-type': response.headers['content-type'] ?? 'application/json' } : {}),
      ...extraHeaders,
      'content-length': String(body.byteLength),
    });
    res.end(body);
    return { completed: true, clientAborted: false };
  }

  res.writeHead(response.status, {
    ...response.headers,
    ...extraHeaders,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    'x-accel-buffering': 'no',
  });
  // Writes made in the same tick (the headers, the events parsed from one upstream chunk) leave in
  // one syscall: cork, and uncork once this tick's work is done. No write waits past the tick.
  let corked = false;
  const uncork = () => {
    corked = false;
    res.uncork();
  };
  const corkForThisTick = () => {
    if (corked) return;
    corked = true;
    res.cork();
    process.nextTick(uncork);
  };
  corkForThisTick();
  res.flushHeaders();
  try {
    for await (const event of response.events) {
      if (res.destroyed) return { completed: false, clientAborted: true };
      corkForThisTick();
      if (!res.write(serializeSse(event))) await eventOrClose(res, 'drain');
    }
  } catch (err) {
    if (res.destroyed) return { completed: false, clientAborted: true };
    const message = `Upstream stream interrupted: ${err instanceof Error ? err.message : String(err)}`;
    res.end(streamErrorFrame(format, message));
    return { completed: false, clientAborted: false, error: message };
  }
  if (res.destroyed) return { completed: false, clientAborted: true };
  res.end();
  return { completed: true, clientAborted: false };
}
