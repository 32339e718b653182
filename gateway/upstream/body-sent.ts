/**
 * Whether a request body went out on the wire. undici publishes `undici:client:sendHeaders`
 * just before it writes a request (headers and body) to a socket; a request that failed before
 * that (connection refused, DNS, connect timeout) never reached the upstream and is safe to send
 * again. One that failed after may have been run — and billed — by the upstream.
 * Each attempt sends its own Buffer object (a view on the same bytes), so attempts are told apart.
 */
import { subscribe } from 'node:diagnostics_channel';

const watched = new WeakSet<object>();
const sent = new WeakSet<object>();
let subscribed = false;

function onSendHeaders(message: unknown): void {
  const body = (message as { request?: { body?: unknown } } | undefined)?.request?.body;
  if (typeof body === 'object' && body !== null && watched.has(body)) sent.add(body);
}

/** A fresh Buffer object over `bytes` whose sending is tracked. */
export function trackedBody(bytes: Buffer): Buffer {
  if (!subscribed) {
    subscribe('undici:client:sendHeaders', onSendHeaders);
    subscribed = true;
  }
  const view = bytes.subarray(0);
  watched.add(view);
  return view;
}

/** True once undici started writing the request that carries `body`. */
export function bodyWentOut(body: Buffer): boolean {
  return sent.has(body);
}
