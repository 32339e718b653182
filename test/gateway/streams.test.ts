/**
 * Streaming through the gateway: event-by-event delivery (no buffering), keep-alive comments,
 * backpressure from a slow reader reaching the upstream, client disconnects aborting the upstream,
 * and mid-stream failures (cut, idle timeout) becoming an error event plus a clean close.
 */
import { after, afterEach, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { SseEvent } from '../../gateway/context.js';
import { parseSse } from '../../gateway/sse.js';
import { openAiStream, startScriptedUpstream, type ScriptedEvent, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil } from '../support/wait.js';

let seq = 0;
/** A Goose-style stream request (it asks for usage, so no stage hides the usage chunk from it). */
function streamBody() {
  return JSON.stringify({
    model: 'anthropic/claude-sonnet-4',
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: `stream ${++seq}` }],
  });
}

function openStream(gw: TestGateway, signal?: AbortSignal): Promise<Response> {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.token}` },
    body: streamBody(),
    ...(signal ? { signal } : {}),
  });
}

function requestLog(gw: TestGateway, id: string | null): Record<string, unknown> | undefined {
  return gw.logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request' && l.reqId === id);
}

describe('streams', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startScriptedUpstream({ keepAlive: false });
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, config: { timeouts: { connectMs: 2000, headersMs: 5000, bodyIdleMs: 400 } } });
  });
  afterEach(async () => {
    await waitUntil(() => upstream.openConnections() === 0, 'upstream connections closed');
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('passes each event on before the upstream sends the next one (no buffering), comments included', async () => {
    const events: ScriptedEvent[] = openAiStream({ contentPieces: ['one', 'two', 'three'] });
    events.splice(2, 0, { comment: ' keep-alive' });
    let received = 0;
    const heldBack: number[] = [];
    // The upstream holds event i until the client has event i-1; a gateway that buffered would stall here.
    const gate = async (index: number) => {
      await waitUntil(() => received >= index, `client has ${index} events`, 3000).catch(() => heldBack.push(index));
    };
    upstream.enqueue({ kind: 'sse', events, beforeEvent: gate });
    const res = await openStream(gw);
    const got: SseEvent[] = [];
    for await (const e of parseSse(res.body!)) {
      got.push(e);
      received++;
    }
    assert.deepEqual(heldBack, [], 'every event reached the client before the next was sent');
    assert.deepEqual(
      got,
      events.map((e) => ('comment' in e ? { comment: e.comment } : { data: e.data })),
    );
    assert.equal(upstream.streams.at(-1)!.ended, true);
  });

  it('a slow drip arrives event by event: the first event is there long before the stream ends', async () => {
    upstream.enqueue({ kind: 'sse', events: openAiStream({ contentPieces: ['a', 'b', 'c', 'd', 'e'] }), delayMs: 40 });
    const res = await openStream(gw);
    const iterator = parseSse(res.body!)[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(first.done, false);
    const progress = upstream.streams.at(-1)!;
    assert.ok(progress.eventsWritten < progress.total, `upstream had written ${progress.eventsWritten}/${progress.total} when the first event arrived`);
    let rest = 0;
    while (!(await iterator.next()).done) rest++;
    assert.equal(rest + 1, progress.total);
  });

  it('backpressure: a paused client pauses the upstream instead of the gateway buffering the stream', async () => {
    // 32 MB: more than loopback socket buffers take in while the reader is paused (measured 4–8 MB
    // over both hops here), so a stall before the end shows the gateway stopped pulling.
    const piece = 'x'.repeat(64 * 1024);
    const total = 512;
    const totalBytes = total * piece.length;
    upstream.enqueue({ kind: 'sse', events: Array.from({ length: total }, (_v, i) => ({ data: JSON.stringify({ i, choices: [{ delta: { content: piece } }] }) })) });
    const requestId = `backpressure-${++seq}`;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const url = new URL(`${gw.url}/v1/chat/completions`);
      const body = streamBody();
      const req = httpRequest(
        { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${gw.token}`, 'x-request-id': requestId } },
        resolve,
      );
      req.on('error', reject);
      req.end(body);
    });
    res.pause();
    try {
      await waitUntil(() => upstream.streams.length > 0 && upstream.streams.at(-1)!.drainWaits > 0, 'upstream blocked on a full socket', 5000);
      const progress = upstream.streams.at(-1)!;
      // Settled: no progress for 200 ms.
      let last = -1;
      while (progress.bytesWritten !== last) {
        last = progress.bytesWritten;
        await new Promise((r) => setTimeout(r, 200));
      }
      const stalledAt = progress.eventsWritten;
      assert.equal(progress.ended, false, 'the upstream is held back, not finished');
      assert.ok(progress.bytesWritten < totalBytes / 2, `upstream wrote ${progress.bytesWritten} of ${totalBytes} bytes while the client was paused`);

      // Reading again lets the upstream go on: it was backpressure, not a hang.
      let count = 0;
      for await (const e of parseSse(res)) {
        assert.equal((JSON.parse(e.data!) as { i: number }).i, count++, 'events in order, none lost');
        if (progress.eventsWritten > stalledAt + 8) break;
      }
      assert.ok(progress.eventsWritten > stalledAt + 8);
    } finally {
      res.destroy();
    }
    // Leaving mid-stream ends the request as client-aborted, and the gateway drops its upstream socket.
    await waitUntil(() => requestLog(gw, requestId)?.clientAborted === true, 'request logged as client-aborted');
    // The scripted server only notices once TCP's zero-window probe meets the closed socket (its
    // reads are paused while its writes are blocked), so this can take a few seconds.
    await waitUntil(() => upstream.streams.at(-1)!.closedByPeer, 'upstream saw the connection close', 10_000, 50);
  });

  it('a client that disconnects mid-stream aborts the upstream request', async () => {
    let release!: () => void;
    const never = new Promise<void>((r) => (release = r));
    upstream.enqueue({ kind: 'sse', events: openAiStream({ contentPieces: ['a', 'b', 'c'] }), beforeEvent: (i) => (i >= 2 ? never : undefined) });
    const ac = new AbortController();
    const res = await openStream(gw, ac.signal);
    const iterator = parseSse(res.body!)[Symbol.asyncIterator]();
    await iterator.next();
    ac.abort();
    await iterator.next().catch(() => undefined);
    await waitUntil(() => upstream.streams.at(-1)!.closedByPeer, 'upstream saw its connection closed');
    await waitUntil(() => upstream.openConnections() === 0, 'no upstream socket left');
    release();
    await waitUntil(() => requestLog(gw, res.headers.get('x-request-id')) !== undefined, 'request logged');
    const log = requestLog(gw, res.headers.get('x-request-id'))!;
    assert.equal(log.clientAborted, true);
    assert.equal(log.completed, false);
  });

  it('a client that disconnects before the upstream answers aborts the upstream request', async () => {
    upstream.enqueue({ kind: 'hang' });
    const before = upstream.received.length;
    const ac = new AbortController();
    const pending = openStream(gw, ac.signal).catch((err: unknown) => err);
    await waitUntil(() => upstream.received.length === before + 1, 'request reached the upstream');
    assert.equal(upstream.openConnections(), 1);
    ac.abort();
    assert.ok((await pending) instanceof Error);
    await waitUntil(() => upstream.openConnections() === 0, 'upstream connection closed');
  });

  it('an upstream that dies mid-stream: events so far, then a data error payload, then a clean end', async () => {
    let got = 0;
    upstream.enqueue({
      kind: 'sse',
      events: openAiStream({ contentPieces: ['a', 'b', 'c'] }),
      cutAfter: 3,
      beforeEvent: (i) => (i === 3 ? waitUntil(() => got >= 3, 'client has three events') : undefined),
    });
    const res = await openStream(gw);
    const events: SseEvent[] = [];
    for await (const e of parseSse(res.body!)) {
      events.push(e);
      got++;
    }
    assert.equal(events.length, 4);
    const last = events[3]!;
    assert.equal(last.event, undefined, 'OpenAI clients read data lines only');
    const payload = JSON.parse(last.data!) as { error: { message: string; type: string; code: string } };
    assert.equal(payload.error.type, 'upstream_error');
    assert.equal(payload.error.code, 'stream_interrupted');
    assert.match(payload.error.message, /^Upstream stream interrupted: /);
  });

  it('an upstream that goes silent mid-stream is cut after bodyIdleMs with an error event', async () => {
    let release!: () => void;
    const silence = new Promise<void>((r) => (release = r));
    upstream.enqueue({ kind: 'sse', events: openAiStream({ contentPieces: ['a', 'b'] }), beforeEvent: (i) => (i === 2 ? silence : undefined) });
    const res = await openStream(gw);
    const events: SseEvent[] = [];
    for await (const e of parseSse(res.body!)) events.push(e);
    release();
    assert.equal(events.length, 3);
    assert.match(events[2]!.data!, /"code":"stream_interrupted"/);
    await waitUntil(() => upstream.streams.at(-1)!.closedByPeer, 'gateway closed the silent upstream');
  });
});
