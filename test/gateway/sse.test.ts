import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SseEvent } from '../../gateway/context.js';
import { parseSse, serializeSse } from '../../gateway/sse.js';

async function parseChunks(chunks: Array<Uint8Array | string>): Promise<SseEvent[]> {
  async function* source() {
    for (const c of chunks) yield c;
  }
  const out: SseEvent[] = [];
  for await (const e of parseSse(source())) out.push(e);
  return out;
}

const enc = new TextEncoder();

/** Every way of cutting `bytes` into two pieces, plus one byte at a time. */
function* splits(bytes: Uint8Array): Generator<Uint8Array[]> {
  for (let i = 0; i <= bytes.length; i++) yield [bytes.subarray(0, i), bytes.subarray(i)];
  yield Array.from(bytes, (_b, i) => bytes.subarray(i, i + 1));
}

describe('SSE parser', () => {
  it('parses LF-framed events with event names, ids and JSON data', async () => {
    const text = 'event: message_start\nid: 7\ndata: {"a":1}\n\ndata: [DONE]\n\n';
    assert.deepEqual(await parseChunks([text]), [{ event: 'message_start', id: '7', data: '{"a":1}' }, { data: '[DONE]' }]);
  });

  it('treats CRLF line endings like LF, even when CR and LF arrive in different chunks', async () => {
    const bytes = enc.encode('event: ping\r\ndata: {"x":"y"}\r\n\r\ndata: two\r\n\r\n');
    const expected = [{ event: 'ping', data: '{"x":"y"}' }, { data: 'two' }];
    for (const chunks of splits(bytes)) assert.deepEqual(await parseChunks(chunks), expected);
  });

  it('joins multi-line data with \\n and the serializer splits it back into data lines', async () => {
    const events = await parseChunks(['data: line one\ndata: line two\ndata:\ndata:  indented\n\n']);
    assert.deepEqual(events, [{ data: 'line one\nline two\n\n indented' }]);
    assert.equal(serializeSse(events[0]!), 'data: line one\ndata: line two\ndata: \ndata:  indented\n\n');
  });

  it('passes comments on as keep-alive events, in order', async () => {
    const events = await parseChunks([': keep-alive\n\ndata: a\n\n:OPENROUTER PROCESSING\n\n']);
    assert.deepEqual(events, [{ comment: ' keep-alive' }, { data: 'a' }, { comment: 'OPENROUTER PROCESSING' }]);
    assert.equal(serializeSse(events[2]!), ':OPENROUTER PROCESSING\n\n');
  });

  it('keeps multi-byte UTF-8 intact when a character is split across chunks at any byte', async () => {
    const payload = '{"content":"Grüße 東京 🚀 ok"}';
    const bytes = enc.encode(`data: ${payload}\n\n`);
    for (const chunks of splits(bytes)) assert.deepEqual(await parseChunks(chunks), [{ data: payload }]);
  });

  it('yields a final event that lacks the closing blank line', async () => {
    assert.deepEqual(await parseChunks(['data: a\n\ndata: tail']), [{ data: 'a' }, { data: 'tail' }]);
  });

  it('ignores unknown fields and retry:, and a field without colon has an empty value', async () => {
    assert.deepEqual(await parseChunks(['retry: 1000\nfoo: bar\ndata\n\n']), [{ data: '' }]);
  });

  it('does not dispatch an event that has no data lines (per the SSE spec)', async () => {
    assert.deepEqual(await parseChunks(['event: lonely\n\ndata: real\n\n']), [{ data: 'real' }]);
  });

  it('strips a leading byte-order mark', async () => {
    assert.deepEqual(await parseChunks([new Uint8Array([0xef, 0xbb, 0xbf, ...enc.encode('data: x\n\n')])]), [{ data: 'x' }]);
  });

  it('serialize → split anywhere → parse returns the same events (property)', async () => {
    const line = fc.string({ unit: fc.constantFrom('a', 'b', ' ', ':', '{', '"', 'é', '😀', '\n') });
    const event = fc.oneof(
      fc.record({ data: line }, { requiredKeys: ['data'] }),
      fc.record({ event: fc.stringMatching(/^[a-z_]{1,12}$/), data: line }),
      fc.record({ comment: fc.string({ unit: fc.constantFrom('a', ' ', '-', 'ü') }) }),
    ).map((e): SseEvent => ({ ...e }));
    await fc.assert(
      fc.asyncProperty(fc.array(event, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 5 }), async (events, cuts) => {
        const bytes = enc.encode(events.map((e) => serializeSse(e)).join(''));
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Uint8Array[] = [];
        let prev = 0;
        for (const p of points) {
          chunks.push(bytes.subarray(prev, p));
          prev = p;
        }
        chunks.push(bytes.subarray(prev));
        assert.deepEqual(await parseChunks(chunks), events);
      }),
      { numRuns: 300 },
    );
  });
});
