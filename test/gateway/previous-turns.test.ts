/**
 * Kept previous turns (wire/previous-turns.ts): a turn that resends the conversation takes the
 * resent messages from the kept turn instead of parsing them again. It must change nothing a
 * client or the upstream can see — the same parsed body, the same masking, the same payload
 * bytes as parsing afresh — and never let a kept value stand for text it is not.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import OpenAI from 'openai';
import { parseRequestBody, rememberTurn, requestPayload } from '../../gateway/wire/raw-request.js';
import { PreviousTurns, commonPrefix } from '../../gateway/wire/previous-turns.js';
import { maskRequestBody, type MaskOptions, type MaskResult } from '../../gateway/guard/mask-request.js';
import { detect } from '../../gateway/guard/detect.js';
import { DetectionMemo } from '../../gateway/guard/detection-memo.js';
import { TenantKeys } from '../../gateway/guard/pseudonym.js';
import type { DetectFn, Finding } from '../../gateway/guard/types.js';
import type { JsonObject, JsonValue } from '../../gateway/context.js';
import { openAiCompletion } from '../support/scripted-upstream.js';
import { useScriptedGateway } from '../support/gateway.js';

const pseudonymizer = new TenantKeys(randomBytes(32)).pseudonymizer('t');
/** Long enough to be parsed item by item (≥ 32 KB), as a long agent session is. */
const PAD = 'source line of a file the agent read\n'.repeat(1000);

/** Parse, mask, keep, build the payload: what the gateway does with one request. */
function turn(bytes: Buffer, opts: MaskOptions, turns?: { store: PreviousTurns; partition: string }): { parsed: JsonValue; result: MaskResult; payload: string } {
  const body = parseRequestBody(bytes, turns) as JsonObject;
  // What the pipeline sees before masking: exactly what the bytes say.
  const parsed = structuredClone(body) as JsonValue;
  const result = maskRequestBody(body, 'openai-chat', opts);
  if (!result.blocked) rememberTurn(body);
  return { parsed, result, payload: result.blocked ? '' : requestPayload(body).toString('utf8') };
}

/**
 * A detector that finds "ZORBLAX-<n>" only after the word "flag", and emails anywhere: a value
 * first found in new text can then sit, undetected, in a message an earlier turn kept.
 */
const flagDetect: DetectFn = (text) => {
  const out: Finding[] = [];
  for (const m of text.matchAll(/flag (ZORBLAX-\d+)/g)) out.push({ class: 'SECRET', start: m.index + 5, end: m.index + m[0].length, score: 1, detector: 'test' });
  for (const m of text.matchAll(/[a-z.]+@[a-z-]+\.com/g)) out.push({ class: 'EMAIL', start: m.index, end: m.index + m[0].length, score: 1, detector: 'test' });
  return out.sort((a, b) => a.start - b.start);
};

const TEXTS = [
  'Continue with the next file.',
  'ZORBLAX-7 shows up in the build log',
  'the flag ZORBLAX-7 is set',
  'mail delia.hartmann@northwind-mail.com about it',
  'Delia Hartmann (delia.hartmann@northwind-mail.com, +1 415 555 0132) asked for this',
  'card 4111 1111 1111 1111 on the invoice',
  'Tomás Okafor — naïve café ☕ 😀',
  'nothing to see here',
  'ZORBLAX-8 and flag ZORBLAX-9',
];

const arbContent: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.constantFrom(...TEXTS),
  fc.array(fc.record({ type: fc.constant('text'), text: fc.constantFrom(...TEXTS) }), { minLength: 1, maxLength: 2 }) as fc.Arbitrary<JsonValue>,
);
const arbMessage: fc.Arbitrary<JsonValue> = fc.oneof(
  fc.record({ role: fc.constantFrom('user', 'assistant', 'tool'), content: arbContent }) as fc.Arbitrary<JsonValue>,
  fc.record({
    role: fc.constant('assistant'),
    content: fc.constant(null),
    tool_calls: fc.tuple(fc.constantFrom(...TEXTS)).map(([t]) => [{ id: 'c1', type: 'function', function: { name: 'shell', arguments: JSON.stringify({ command: t, n: 4111111111111111 }) } }]),
  }) as fc.Arbitrary<JsonValue>,
);

/** How a turn's body relates to the one before: grows (as agents do), or something else changes. */
const arbStep = fc.record({
  added: fc.array(arbMessage, { minLength: 0, maxLength: 3 }),
  edit: fc.option(fc.tuple(fc.nat(), arbMessage), { nil: undefined }),
  drop: fc.boolean(),
  indent: fc.constantFrom(undefined, undefined, undefined, 1),
  tools: fc.constantFrom('plain', 'flag', 'strict'),
});

/** Tool definitions of a turn: plain, one whose description holds a value, or a strict one typing `n` as a number. */
function toolsOf(kind: 'plain' | 'flag' | 'strict'): JsonValue[] {
  if (kind === 'flag') return [{ type: 'function', function: { name: 'shell', description: 'run it for flag ZORBLAX-9' } }];
  if (kind === 'strict') return [{ type: 'function', function: { name: 'shell', strict: true, description: 'run it', parameters: { type: 'object', properties: { command: { type: 'string' }, n: { type: 'number' } } } } }];
  return [];
}

describe('kept previous turns', () => {
  it('give the same parsed body, masking and upstream payload as parsing every turn afresh', () => {
    fc.assert(
      fc.property(fc.array(arbMessage, { minLength: 1, maxLength: 4 }), fc.array(arbStep, { minLength: 1, maxLength: 6 }), fc.constantFrom<DetectFn>(detect, flagDetect), (first, steps, detectFn) => {
        const store = new PreviousTurns(64 * 1024 * 1024);
        const keptMemo = new DetectionMemo(1 << 20);
        const freshMemo = new DetectionMemo(1 << 20);
        const base = { detect: detectFn, pseudonymizer, modeFor: () => 'mask' as const };
        let messages: JsonValue[] = [{ role: 'system', content: PAD }, ...first];
        const bodies: string[] = [JSON.stringify({ model: 'm', messages, tools: [{ type: 'function', function: { name: 'shell', description: 'run it' } }] })];
        for (const s of steps) {
          messages = [...messages, ...s.added];
          if (s.edit) messages[1 + (s.edit[0] % (messages.length - 1))] = s.edit[1];
          if (s.drop && messages.length > 2) messages = messages.slice(0, -1);
          bodies.push(JSON.stringify({ model: 'm', messages, tools: toolsOf(s.tools) }, null, s.indent));
        }
        for (const text of bodies) {
          const bytes = Buffer.from(text);
          const kept = turn(bytes, { ...base, memo: keptMemo }, { store, partition: 'p' });
          const fresh = turn(bytes, { ...base, memo: freshMemo });
          assert.deepEqual(kept.parsed, JSON.parse(text));
          assert.deepEqual(kept.result, fresh.result);
          assert.equal(kept.payload, fresh.payload);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('skip scanning the body after the array only when those bytes are the kept turn\'s', () => {
    // The scan of a turn resumed from a kept one stops at the array's end when the rest is the
    // kept turn's bytes (checked then); any other tail is scanned, so a key repeated after the
    // array still sends the body to a whole parse, whose value JSON.parse decides.
    const tools = '"tools":[{"type":"function","function":{"name":"shell","description":"run it"}}]';
    const first = `{"model":"m","messages":[{"role":"system","content":${JSON.stringify(PAD)}},{"role":"user","content":"hi"}],${tools}}`;
    const next = `{"model":"m","messages":[{"role":"system","content":${JSON.stringify(PAD)}},{"role":"user","content":"hi"},{"role":"user","content":"again"}],${tools}}`;
    const repeated = `{"model":"m","messages":[{"role":"system","content":${JSON.stringify(PAD)}},{"role":"user","content":"hi"},{"role":"user","content":"again"}],"messages":[]}`;
    for (const text of [next, repeated]) {
      const scope = { store: new PreviousTurns(1 << 26), partition: 'p' };
      rememberTurn(parseRequestBody(Buffer.from(first), scope) as JsonObject);
      const parsed = parseRequestBody(Buffer.from(text), scope) as JsonObject;
      assert.deepEqual(parsed, JSON.parse(text));
      assert.equal(requestPayload(parsed).toString('utf8'), JSON.stringify(JSON.parse(text)));
    }
  });

  it('masks Anthropic Messages and Responses turns with kept turns exactly as afresh', () => {
    const opts = { detect, pseudonymizer, modeFor: () => 'mask' as const };
    const formats = [
      {
        kind: 'anthropic-messages' as const,
        body: (items: JsonValue[]) => ({ model: 'm', system: [{ type: 'text', text: 'be brief' }], messages: items, tools: [{ name: 'shell', description: 'run it', input_schema: { type: 'object', properties: { n: { type: 'number' } } } }] }),
        item: (t: number): JsonValue => (t % 2 === 0
          ? { role: 'user', content: [{ type: 'text', text: `turn ${t}: mail delia.hartmann@northwind-mail.com` }, { type: 'tool_result', tool_use_id: `t${t}`, content: PAD }] }
          : { role: 'assistant', content: [{ type: 'text', text: t === 1 ? 'ZORBLAX-7 shows up in the build log' : 'the flag ZORBLAX-7 is set' }, { type: 'tool_use', id: `t${t}`, name: 'shell', input: { command: 'ls', n: 4111111111111111 } }] }),
      },
      {
        kind: 'openai-responses' as const,
        body: (items: JsonValue[]) => ({ model: 'm', instructions: 'be brief', input: items, tools: [{ type: 'function', name: 'shell', description: 'run it', parameters: { type: 'object' } }] }),
        item: (t: number): JsonValue => (t % 2 === 0
          ? { role: 'user', content: [{ type: 'input_text', text: `turn ${t}: Delia Hartmann, +1 415 555 0132` }] }
          : { type: 'function_call_output', call_id: `c${t}`, output: `${PAD}${t === 1 ? 'ZORBLAX-7 shows up in the build log' : 'the flag ZORBLAX-7 is set'}` }),
      },
    ];
    for (const f of formats) for (const detectFn of [detect, flagDetect]) {
      const store = new PreviousTurns(1 << 26);
      const keptMemo = new DetectionMemo(1 << 20);
      const freshMemo = new DetectionMemo(1 << 20);
      const items: JsonValue[] = [];
      for (let t = 0; t < 5; t++) {
        items.push(f.item(t));
        const bytes = Buffer.from(JSON.stringify(f.body(items)));
        const run = (turns?: { store: PreviousTurns; partition: string }, memo?: DetectionMemo) => {
          const body = parseRequestBody(bytes, turns) as JsonObject;
          const result = maskRequestBody(body, f.kind, { ...opts, detect: detectFn, memo });
          if (!result.blocked) rememberTurn(body);
          return { result, payload: requestPayload(body).toString('utf8') };
        };
        const kept = run({ store, partition: 'p' }, keptMemo);
        const fresh = run(undefined, freshMemo);
        assert.deepEqual(kept.result, fresh.result, `${f.kind} turn ${t}`);
        assert.equal(kept.payload, fresh.payload, `${f.kind} turn ${t}`);
        if (detectFn === detect) assert.doesNotMatch(kept.payload, /delia\.hartmann|Delia Hartmann|555 0132/, `${f.kind} turn ${t}`);
        if (detectFn === flagDetect && t >= 3) assert.doesNotMatch(kept.payload, /ZORBLAX-7/, `${f.kind} turn ${t}: found in new text, masked in the kept one too`);
      }
    }
  });

  it('masks a value found in new text where an earlier, kept message holds it undetected', () => {
    const store = new PreviousTurns(1 << 24);
    const opts = { detect: flagDetect, pseudonymizer, modeFor: () => 'mask' as const, memo: new DetectionMemo(1 << 20) };
    const messages: JsonValue[] = [{ role: 'system', content: PAD }, { role: 'tool', content: 'ZORBLAX-7 shows up in the build log' }];
    const one = turn(Buffer.from(JSON.stringify({ model: 'm', messages })), opts, { store, partition: 'p' });
    assert.match(one.payload, /ZORBLAX-7 shows up/, 'nothing detected yet');
    messages.push({ role: 'user', content: 'the flag ZORBLAX-7 is set' });
    const two = turn(Buffer.from(JSON.stringify({ model: 'm', messages })), opts, { store, partition: 'p' });
    assert.doesNotMatch(two.payload, /ZORBLAX-7/);
    assert.equal(two.result.redactions['SECRET'], 2);
    // And the turn after, which takes both messages from the kept turn again.
    messages.push({ role: 'assistant', content: 'ok' });
    const three = turn(Buffer.from(JSON.stringify({ model: 'm', messages })), opts, { store, partition: 'p' });
    assert.doesNotMatch(three.payload, /ZORBLAX-7/);
    assert.deepEqual(three.parsed, JSON.parse(JSON.stringify({ model: 'm', messages })));
  });

  it('takes resent messages from the kept turn, frozen, and only within the same partition', () => {
    const store = new PreviousTurns(1 << 24);
    const opts = { detect, pseudonymizer, modeFor: () => 'mask' as const };
    const messages: JsonValue[] = [{ role: 'system', content: PAD }, { role: 'user', content: 'hello' }];
    const first = parseRequestBody(Buffer.from(JSON.stringify({ model: 'm', messages })), { store, partition: 'a' }) as JsonObject;
    maskRequestBody(first, 'openai-chat', opts);
    rememberTurn(first);
    messages.push({ role: 'assistant', content: 'hi' });
    const bytes = Buffer.from(JSON.stringify({ model: 'm', messages }));
    const same = parseRequestBody(bytes, { store, partition: 'a' }) as JsonObject;
    const resent = (same['messages'] as JsonObject[])[0]!;
    assert.equal(resent, (first['messages'] as JsonObject[])[0], 'the kept message itself');
    assert.ok(Object.isFrozen(resent));
    assert.throws(() => {
      resent['content'] = 'changed';
    }, TypeError, 'a stage cannot change a kept message unseen');
    const other = parseRequestBody(bytes, { store, partition: 'b' }) as JsonObject;
    assert.notEqual((other['messages'] as JsonObject[])[0], resent, 'another caller parses its own');
    assert.ok(!Object.isFrozen((other['messages'] as JsonObject[])[0]));
  });

  it('finds the findings of a resent kept text by identity, and detects again under other options', () => {
    const store = new PreviousTurns(1 << 24);
    // An LRU too small to keep any entry: a resent text not found by identity would be detected again.
    const memo = new DetectionMemo(1);
    const seen: string[] = [];
    const counting: DetectFn = (text, options) => {
      seen.push(text);
      return flagDetect(text, options);
    };
    const history = 'the build log is long enough to be memoised, and holds no value to mask';
    const messages: JsonValue[] = [{ role: 'system', content: PAD }, { role: 'tool', content: history }];
    const opts = { detect: counting, pseudonymizer, modeFor: () => 'mask' as const, memo };
    turn(Buffer.from(JSON.stringify({ model: 'm', messages })), opts, { store, partition: 'p' });
    assert.ok(seen.includes(history));
    // The next turn takes the messages kept frozen (their entries are made then); the one after finds them.
    messages.push({ role: 'user', content: 'next' });
    turn(Buffer.from(JSON.stringify({ model: 'm', messages })), opts, { store, partition: 'p' });
    seen.length = 0;
    messages.push({ role: 'user', content: 'and the next one?' });
    const keyed = memo.hits;
    const two = turn(Buffer.from(JSON.stringify({ model: 'm', messages })), opts, { store, partition: 'p' });
    assert.ok(!seen.includes(history) && !seen.includes(PAD), 'no resent text is detected again');
    assert.ok(seen.includes('and the next one?'));
    assert.ok(memo.hits > keyed);
    assert.match(two.payload, /holds no value to mask/);
    // The same kept message under another option set (another policy) is detected afresh.
    messages.push({ role: 'assistant', content: 'done' });
    turn(Buffer.from(JSON.stringify({ model: 'm', messages })), { ...opts, detectOptions: { classes: new Set(['SECRET', 'EMAIL']) } }, { store, partition: 'p' });
    assert.ok(seen.includes(history));
    // Only frozen holders are looked up by identity: a plain object's value could change under its entry.
    assert.equal(memo.heldText({ content: history }, 'content', history, undefined, counting), undefined);
  });

  it('masks a kept tool call\'s JSON leaves under each turn\'s options, and a value found later where they hold it', () => {
    const store = new PreviousTurns(1 << 24);
    const memo = new DetectionMemo(1 << 20);
    const seen: string[] = [];
    const counting: DetectFn = (text, options) => {
      seen.push(text);
      return flagDetect(text, options).filter((f) => !options?.classes || options.classes.has(f.class));
    };
    const leaf = 'grep the build log for ZORBLAX-7 and flag ZORBLAX-5';
    const messages: JsonValue[] = [
      { role: 'system', content: PAD },
      { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'developer__shell', arguments: JSON.stringify({ command: leaf }) } }] },
      { role: 'tool', tool_call_id: 'c1', content: 'no match' },
    ];
    const emailOnly = { classes: new Set(['EMAIL']) };
    const opts = { detect: counting, pseudonymizer, modeFor: () => 'mask' as const, memo, detectOptions: emailOnly };
    const next = (o: MaskOptions, content: string) => {
      messages.push({ role: 'user', content });
      return turn(Buffer.from(JSON.stringify({ model: 'm', messages })), o, { store, partition: 'p' });
    };
    next(opts, 'first');
    next(opts, 'second'); // takes the tool call kept (frozen), walks it once
    const three = next(opts, 'third'); // reuses that walk
    assert.ok(three.payload.includes('ZORBLAX-5'), 'SECRET is not a class of these options');
    // A value found in new text is masked in the kept leaf (its occurrences under the new set of values).
    const four = next(opts, 'mail ops@example.com and flag ZORBLAX-7');
    assert.ok(four.payload.includes('ZORBLAX-7'), 'still not a class of these options');
    seen.length = 0;
    const five = next({ ...opts, detectOptions: undefined }, 'again: flag ZORBLAX-7');
    assert.ok(seen.includes(leaf), 'other options: the leaf is detected afresh');
    assert.ok(!five.payload.includes('ZORBLAX-7') && !five.payload.includes('ZORBLAX-5'), 'both values masked in the kept leaf');
    // Back to the first options: the leaf's findings are the email-only ones again.
    seen.length = 0;
    const six = next(opts, 'sixth');
    assert.ok(six.payload.includes('ZORBLAX-5') && six.payload.includes('ZORBLAX-7'));
  });

  it('keeps a few conversations per caller and stays within its byte bound', () => {
    const bodyOf = (i: number) => Buffer.from(JSON.stringify({ model: 'm', messages: [{ role: 'system', content: `${i} ${PAD}` }] }));
    const roomy = new PreviousTurns(64 * 1024 * 1024);
    for (let i = 0; i < 12; i++) rememberTurn(parseRequestBody(bodyOf(i), { store: roomy, partition: 'p' }) as JsonObject);
    assert.equal(roomy.match('p', bodyOf(3), 'messages'), undefined, 'the oldest conversations beyond eight are dropped');
    assert.equal(roomy.match('p', bodyOf(4), 'messages')?.count, 1);
    assert.equal(roomy.match('p', bodyOf(11), 'input'), undefined, 'another array is another conversation');

    const tight = new PreviousTurns(1024 * 1024);
    for (let i = 0; i < 40; i++) {
      rememberTurn(parseRequestBody(bodyOf(i), { store: tight, partition: `p${i % 3}` }) as JsonObject);
      assert.ok(tight.bytes <= 1024 * 1024, `${tight.bytes} bytes held`);
    }
    assert.equal(tight.match('p0', bodyOf(39), 'messages')?.count, 1, 'the latest turn is kept');
  });

  it('finds the common prefix of two byte strings exactly', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.uint8Array({ maxLength: 40 }), fc.uint8Array({ maxLength: 40 }), fc.nat({ max: 200_000 }), (common, a, b, pad) => {
        const head = Buffer.concat([Buffer.alloc(pad, 7), common]);
        const x = Buffer.concat([head, a]);
        const y = Buffer.concat([head, b]);
        let naive = 0;
        while (naive < x.length && naive < y.length && x[naive] === y[naive]) naive++;
        assert.equal(commonPrefix(x, y, Infinity), naive);
        assert.equal(commonPrefix(x, y, 5), Math.min(5, naive));
      }),
      { numRuns: 200 },
    );
  });
});

describe('kept previous turns through the gateway', () => {
  const suite = useScriptedGateway();

  it('masks every turn of a long session, old messages included, and restores the answers', async () => {
    const { upstream, gw } = suite;
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
    const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'system', content: PAD }];
    const people = [
      { name: 'Delia Hartmann', email: 'delia.hartmann@northwind-mail.com' },
      { name: 'Tomás Okafor', email: 'tomas.okafor@contoso.io' },
      { name: 'Jonas Kowalczyk', email: 'jonas.kowalczyk@example-mail.org' },
    ];
    // The model repeats the (masked) request it was sent; the client must read it restored.
    upstream.setDefault((req) => {
      const sent = (req.body as { messages: Array<{ content: string }> }).messages;
      return { kind: 'json', body: openAiCompletion({ content: `Noted: ${sent.at(-1)!.content}` }) };
    });
    for (const [t, p] of people.entries()) {
      const ask = `Turn ${t}: write to ${p.name} at ${p.email}.`;
      messages.push({ role: 'user', content: ask });
      const answer = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages });
      assert.equal(answer.choices[0]!.message.content, `Noted: ${ask}`);
      messages.push({ role: 'assistant', content: answer.choices[0]!.message.content ?? '' });
      const sent = upstream.received.at(-1)!.raw;
      for (const q of people.slice(0, t + 1)) {
        assert.ok(!sent.includes(q.email) && !sent.includes(q.name), `turn ${t}: ${q.name} reached the upstream`);
      }
      assert.equal((JSON.parse(sent) as { messages: unknown[] }).messages.length, messages.length - 1);
    }
    upstream.setDefault(undefined);
    assert.ok(gw.server.services.previousTurns!.bytes > 0, 'turns were kept');
  });
});
