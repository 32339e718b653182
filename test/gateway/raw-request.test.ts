/**
 * The upstream payload reuses the client's bytes for unchanged messages (wire/raw-request.ts):
 * it must always parse to exactly the body the pipeline holds, reuse bytes only where nothing
 * changed, and fall back to serialising when the bytes could mean something else.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeUtf8, itemRanges, markChanged, parseRequestBody, rawTextName, rememberRawRequest, requestPayload } from '../../gateway/wire/raw-request.js';
import type { JsonObject, JsonValue } from '../../gateway/context.js';
import { useScriptedGateway } from '../support/gateway.js';

function parse(text: string): { body: JsonObject; bytes: Buffer } {
  const bytes = Buffer.from(text);
  const body = JSON.parse(bytes.toString('utf8')) as JsonObject;
  rememberRawRequest(body, bytes);
  return { body, bytes };
}

const arbMessage = fc.record({
  role: fc.constantFrom('user', 'assistant', 'tool'),
  content: fc.oneof(fc.string({ unit: 'binary' }), fc.array(fc.record({ type: fc.constant('text'), text: fc.string({ unit: 'binary' }) }), { maxLength: 3 })),
  extra: fc.option(fc.jsonValue(), { nil: undefined }),
}) as fc.Arbitrary<JsonValue>;

describe('request body decoding', () => {
  it('decodes any byte string exactly as Buffer#toString does, long or short, valid UTF-8 or not', () => {
    const arbText = fc.string({ unit: 'binary', maxLength: 64 });
    fc.assert(fc.property(fc.array(arbText, { maxLength: 40 }), fc.integer({ min: 0, max: 20_000 }), fc.uint8Array({ maxLength: 8 }), (parts, pad, junk) => {
      // Padding pushes bodies past the size where the fast decoder takes over.
      const text = 'x'.repeat(pad) + parts.join('');
      const valid = Buffer.from(text);
      assert.equal(decodeUtf8(valid), valid.toString('utf8'));
      const invalid = Buffer.concat([valid, Buffer.from(junk), valid]);
      assert.equal(decodeUtf8(invalid), invalid.toString('utf8'));
    }), { numRuns: 300 });
  });

  it('keeps a byte-order mark, lone surrogates replaced and 4-byte characters as pairs', () => {
    const pad = 'a'.repeat(20_000);
    for (const text of [`\ufeff${pad}é`, `${pad}\ud800x\udc00`, `${pad}😀—≥`]) {
      const bytes = Buffer.from(text);
      assert.equal(decodeUtf8(bytes), bytes.toString('utf8'));
    }
    const bad = Buffer.concat([Buffer.from(pad), Buffer.from([0xed, 0xa0, 0x80, 0xc0, 0xaf, 0xff]), Buffer.from('—')]);
    assert.equal(decodeUtf8(bad), bad.toString('utf8'));
  });
});

describe('request body parsing, item by item', () => {
  /** What JSON.parse of the whole decoded body gives: the value, or the error message. */
  function whole(bytes: Buffer): { value: JsonValue } | { error: string } {
    try {
      return { value: JSON.parse(bytes.toString('utf8')) as JsonValue };
    } catch (err) {
      return { error: (err as Error).message };
    }
  }
  function pieces(bytes: Buffer): { value: JsonValue } | { error: string } {
    try {
      return { value: parseRequestBody(bytes) };
    } catch (err) {
      return { error: (err as Error).message };
    }
  }
  // Long enough to take the piece-by-piece path.
  const pad = 'p'.repeat(40 * 1024);

  it('gives exactly what parsing the whole body gives, whatever the formatting, and the same errors', () => {
    const arbGap = fc.constantFrom('', ' ', '\n  ', '\t', ',', ' , ', ',,', ':', '] [', '}', '"', 'x');
    fc.assert(
      fc.property(
        fc.array(arbMessage, { minLength: 1, maxLength: 6 }),
        fc.constantFrom(undefined, 1, '\t'),
        fc.constantFrom('messages', 'input'),
        fc.option(fc.tuple(fc.nat(), arbGap, fc.nat({ max: 2 })), { nil: undefined }),
        (messages, indent, key, damage) => {
          let text = JSON.stringify({ model: 'm', pad, [key]: messages, tools: [{ type: 'function' }], stream: true }, null, indent);
          if (damage) {
            // Damage the body somewhere after the padding (insert, replace or delete): gaps between
            // items, brackets, values.
            const from = text.indexOf(`"${key}"`);
            const at = from + (damage[0] % (text.length - from));
            text = text.slice(0, at) + damage[1] + text.slice(at + damage[2]);
          }
          const bytes = Buffer.from(text);
          assert.deepEqual(pieces(bytes), whole(bytes));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('parses whole what it cannot split soundly: duplicate keys, escaped keys, bad UTF-8, no array', () => {
    const cases = [
      `{"pad":"${pad}","messages":[{"content":"a","content":"b"}]}`,
      `{"pad":"${pad}","messages":[{"content":"a"}],"messages":[{"content":"b"}]}`,
      `{"pad":"${pad}","messages":[{"cont\\u0065nt":"a"}]}`,
      `{"pad":"${pad}","messages":"not an array","input":[{"content":"x"}]}`,
      `{"pad":"${pad}","messages":[]}`,
      `\ufeff{"pad":"${pad}","messages":[1]}`,
      `{"pad":"${pad}","messages":[1]} trailing`,
      // The gaps between items: exactly one comma, whitespace around it.
      `{"pad":"${pad}","messages":[{"a":1} {"b":2}]}`,
      `{"pad":"${pad}","messages":[{"a":1},,{"b":2}]}`,
      `{"pad":"${pad}","messages":[{"a":1}:{"b":2}]}`,
      `{"pad":"${pad}","messages":[,{"a":1}]}`,
      `{"pad":"${pad}","messages":[{"a":1},]}`,
      `{"pad":"${pad}","messages":[{"a":1} , \n {"b":2}]}`,
      `{"pad":"${pad}","messages":["a" "b"]}`,
      `{"pad":"${pad}","messages":[1 2]}`,
      `{"pad":"${pad}","messages":[{"a":1}}`,
      `[{"pad":"${pad}","messages":[1]}]`,
    ];
    for (const text of cases) {
      const bytes = Buffer.from(text);
      assert.deepEqual(pieces(bytes), whole(bytes), text.slice(-80));
    }
    const bad = Buffer.from(`{"pad":"${pad}","messages":[{"content":"\u00ff"}]}`);
    bad[bad.length - 6] = 0xff;
    const parsed = parseRequestBody(bad) as JsonObject;
    assert.deepEqual(parsed, JSON.parse(bad.toString('utf8')));
    assert.equal(rawTextName(parsed, 'messages[0].content', ((parsed['messages'] as JsonObject[])[0]!['content']) as string), undefined, 'no bytes vouched for');
  });

  it('keeps the body\'s key order and the bytes for reuse', () => {
    const text = `{"model":"m","messages":[{"role":"user","content":"${pad}"}, {"role":"tool","content":"two"}],"tools":[],"stream":true}`;
    const body = parseRequestBody(Buffer.from(text)) as JsonObject;
    assert.deepEqual(Object.keys(body), ['model', 'messages', 'tools', 'stream']);
    assert.equal(requestPayload(body).toString('utf8'), text.replace('}, {', '},{'));
  });
});

describe('raw text names (detection memo keys)', () => {
  const text = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'one' }, { type: 'text', text: 'two' }] }, { role: 'user', content: 'three' }] });

  it('names a text by its message\'s bytes and its path inside the message', () => {
    const a = parse(text).body;
    const b = parse(text).body;
    const parts = (a.messages as JsonObject[])[0]!.content as JsonObject[];
    const one = rawTextName(a, 'messages[0].content[0].text', parts[0]!.text as string);
    const two = rawTextName(a, 'messages[0].content[1].text', parts[1]!.text as string);
    assert.ok(one && two && one !== two);
    assert.equal(rawTextName(b, 'messages[0].content[0].text', 'one'), one, 'the same bytes give the same name');
    const escaped = parse(text.replace('"one"', '"\\u006fne"')).body;
    assert.notEqual(rawTextName(escaped, 'messages[0].content[0].text', 'one'), one, 'other bytes, other name');
  });

  it('names nothing it cannot vouch for', () => {
    const { body } = parse(text);
    assert.equal(rawTextName(body, 'messages[1].content', 'not the text there'), undefined);
    assert.equal(rawTextName(body, 'messages[0].content[0]', 'one'), undefined);
    assert.equal(rawTextName(body, 'model', 'm'), undefined);
    (body.messages as JsonValue[])[1] = { role: 'user', content: 'three' };
    assert.equal(rawTextName(body, 'messages[1].content', 'three'), undefined, 'the item was replaced');
    markChanged(body, 'messages[0].content[0].text');
    assert.equal(rawTextName(body, 'messages[0].content[1].text', 'two'), undefined, 'a change was reported in the item');
    const dup = parse(text.replace('{"role":"user","content":"three"}', '{"role":"user","content":"three","content":"three"}')).body;
    assert.equal(rawTextName(dup, 'messages[1].content', 'three'), undefined, 'duplicate keys');
    assert.equal(rawTextName(JSON.parse(text) as JsonObject, 'messages[1].content', 'three'), undefined, 'no bytes kept');
  });
});

describe('raw request reuse', () => {
  it('payload parses to the body after any edits, whatever the client formatting', () => {
    fc.assert(
      fc.property(
        fc.array(arbMessage, { minLength: 1, maxLength: 8 }),
        fc.constantFrom(undefined, 1, 2, '\t'),
        fc.array(fc.nat(), { maxLength: 3 }),
        fc.option(fc.string(), { nil: undefined }),
        (messages, indent, edits, model) => {
          const { body } = parse(JSON.stringify({ model: 'm', messages, tools: [{ type: 'function', function: { name: 't' } }], stream: true }, null, indent));
          for (const e of edits) {
            const i = e % messages.length;
            const m = (body['messages'] as JsonObject[])[i]!;
            m['content'] = `masked ${e}`;
            markChanged(body, `messages[${i}].content`);
          }
          body['max_tokens'] = 5;
          const sent = JSON.parse(requestPayload(body, model).toString('utf8')) as JsonObject;
          assert.deepEqual(sent, model !== undefined ? { ...body, model } : body);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('patches replaced spans inside a message in place, whatever the escaping around them', () => {
    const escapeAll = (json: string) => json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
    fc.assert(
      fc.property(
        fc.array(fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.string({ unit: 'binary', maxLength: 8 })), { maxLength: 4 }),
        fc.boolean(),
        fc.constantFrom(undefined, 2),
        (texts, edits, escaped, indent) => {
          const messages = texts.map((t, i) => (i % 2 === 0 ? { role: 'tool', content: t } : { role: 'user', content: [{ type: 'text', text: t }] }));
          const json = JSON.stringify({ model: 'm', messages }, null, indent);
          const { body } = parse(escaped ? escapeAll(json) : json);
          const list = body['messages'] as JsonObject[];
          for (const [m, a, b, replacement] of edits) {
            const i = m % list.length;
            const holder = (i % 2 === 0 ? list[i]! : (list[i]!['content'] as JsonObject[])[0]!) as JsonObject;
            const key = i % 2 === 0 ? 'content' : 'text';
            const before = holder[key] as string;
            // Span boundaries on code points, as detectors give them.
            const points = [...before];
            const lo = Math.min(a, b) % (points.length + 1);
            const hi = Math.max(lo, Math.max(a, b) % (points.length + 1));
            const start = points.slice(0, lo).join('').length;
            const end = points.slice(0, hi).join('').length;
            holder[key] = before.slice(0, start) + replacement + before.slice(end);
            markChanged(body, i % 2 === 0 ? `messages[${i}].content` : `messages[${i}].content[0].text`, { before, edits: [{ start, end, text: replacement }] });
          }
          assert.deepEqual(JSON.parse(requestPayload(body).toString('utf8')), body);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a patched message keeps its own bytes around the replaced value', () => {
    const text = '{"messages":[ {"role" : "tool", "content" : "caf\\u00e9\\n mail dana@x.example now"} ]}';
    const { body } = parse(text);
    const m = (body['messages'] as JsonObject[])[0]!;
    const before = m['content'] as string;
    const start = before.indexOf('dana');
    m['content'] = `${before.slice(0, start)}EMAIL_1${before.slice(start + 'dana@x.example'.length)}`;
    markChanged(body, 'messages[0].content', { before, edits: [{ start, end: start + 'dana@x.example'.length, text: 'EMAIL_1' }] });
    assert.equal(requestPayload(body).toString('utf8'), '{"messages":[{"role" : "tool", "content" : "caf\\u00e9\\n mail EMAIL_1 now"}]}');
  });

  it('a change that does not match the bytes is serialised, never patched blindly', () => {
    const { body } = parse('{"messages":[{"role":"user","content":"call 555 0100 today, please"}]}');
    const m = (body['messages'] as JsonObject[])[0]!;
    m['content'] = 'call PHONE_1 today, please';
    // Offsets that do not describe the change: the check on the patched bytes refuses them.
    markChanged(body, 'messages[0].content', { before: 'call 555 0100 today, please', edits: [{ start: 0, end: 4, text: 'PHONE_1' }] });
    assert.equal(requestPayload(body).toString('utf8'), '{"messages":[{"role":"user","content":"call PHONE_1 today, please"}]}');
  });

  it('reuses the bytes of unchanged messages and serialises the changed one', () => {
    const text = '{"model":"m","messages":[ {"role":"user", "content":"keep  me"} ,\n {"role":"user","content":"secret 4111"} ]}';
    const { body } = parse(text);
    (body['messages'] as JsonObject[])[1]!['content'] = 'secret CARD_1';
    markChanged(body, 'messages[1].content');
    const out = requestPayload(body).toString('utf8');
    assert.ok(out.includes('{"role":"user", "content":"keep  me"}'), out);
    assert.ok(!out.includes('4111'), out);
    assert.deepEqual(JSON.parse(out), body);
  });

  it('an unreported change inside a message is never sent from the old bytes when the item object was replaced', () => {
    const { body } = parse('{"messages":[{"role":"user","content":"a@b.example"}]}');
    (body['messages'] as JsonValue[])[0] = { role: 'user', content: 'EMAIL_1' };
    assert.equal(requestPayload(body).toString('utf8'), '{"messages":[{"role":"user","content":"EMAIL_1"}]}');
  });

  it('a change it cannot place in a message turns reuse off', () => {
    const { body } = parse('{"messages":[{"role":"user","content":"x  y"}]}');
    markChanged(body, 'messages');
    assert.equal(requestPayload(body).toString('utf8'), JSON.stringify(body));
  });

  it('refuses bytes that could mean something else: duplicate keys, escaped keys, bad UTF-8', () => {
    assert.equal(itemRanges(Buffer.from('{"messages":[{"content":"SECRET","content":"x"}]}'), 'messages'), null);
    assert.equal(itemRanges(Buffer.from('{"messages":[{"content":"x"}],"messages":[]}'), 'messages'), null);
    assert.equal(itemRanges(Buffer.from('{"messages":[{"cont\\u0065nt":"x"}]}'), 'messages'), null);
    assert.equal(itemRanges(Buffer.from([...Buffer.from('{"messages":[{"content":"'), 0xff, ...Buffer.from('"}]}')]), 'messages'), null);
    // Duplicate keys: the payload is serialised from the parsed body, so the hidden value never goes out.
    const { body } = parse('{"messages":[{"role":"user","content":"sk-SECRET","content":"hello  there"}]}');
    assert.ok(!requestPayload(body).toString('utf8').includes('sk-SECRET'));
  });

  it('finds item ranges around escaped quotes, nested arrays and scalars', () => {
    const text = '{"a":[1,2],"messages":[ "s\\"]" , 12 ,{"x":[{"y":"]"}]},null ],"b":{"messages":[]}}';
    const ranges = itemRanges(Buffer.from(text), 'messages')!;
    assert.deepEqual(ranges.map(([s, e]) => text.slice(s, e)), ['"s\\"]"', '12', '{"x":[{"y":"]"}]}', 'null']);
  });

  it('Responses input items are reused the same way', () => {
    const { body } = parse('{"model":"m","input":[{"role":"user","content":"one"},{"type":"function_call_output","call_id":"c","output":"two"}]}');
    (body['input'] as JsonObject[])[1]!['output'] = 'TWO';
    markChanged(body, 'input[1].output');
    assert.deepEqual(JSON.parse(requestPayload(body).toString('utf8')), body);
  });
});

describe('raw request reuse through the gateway', () => {
  const suite = useScriptedGateway();

  it('sends unchanged messages as the client wrote them and masked ones patched, in mask mode', async () => {
    const { upstream, gw } = suite;
    const kept = '{"role" : "system" ,  "content" : "Be brief. \\u00e9t\\u00e9 \\ud83d\\ude00"}';
    const masked = '{"role":"user", "content":"Mail dana.whitfield@northwind-mail.com  the caf\\u00e9 notes"}';
    const text = `{"model":"m","messages":[${kept},  ${masked}],"stream":false}`;
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.token}` },
      body: text,
    });
    assert.equal(res.status, 200);
    await res.text();
    const raw = upstream.received.at(-1)!.raw;
    assert.ok(raw.includes(kept), raw);
    assert.ok(!raw.includes('dana.whitfield'), raw);
    // The masked message keeps its own spacing and escapes around the pseudonym.
    assert.match(raw, /\{"role":"user", "content":"Mail EMAIL_[0-9A-F]{8}  the caf\\u00e9 notes"\}/);
  });
});
