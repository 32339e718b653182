/**
 * Masking through the wire map: the fields the first walker missed (tool and parameter
 * descriptions, response_format schemas, prediction, user, metadata, message names, refusals,
 * Anthropic document and search_result blocks, Responses items), numbers inside tool-call JSON
 * (string where the schema allows, refusal where a strict tool types them as numbers), and the
 * detection memo giving exactly the unmemoised result.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { JsonObject } from '../../gateway/context.js';
import { TenantKeys } from '../../gateway/guard/pseudonym.js';
import { maskRequestBody, type MaskOptions } from '../../gateway/guard/mask-request.js';
import { DetectionMemo } from '../../gateway/guard/detection-memo.js';
import { rememberRawRequest } from '../../gateway/wire/raw-request.js';
import { PseudonymMatcher, reidentifyText } from '../../gateway/guard/reidentify-stream.js';
import type { DetectFn } from '../../gateway/guard/types.js';
import { testDetect } from './masking-test-detector.js';

const pseudonymizer = new TenantKeys(randomBytes(32)).pseudonymizer('acme');
const EMAIL = 'jane.doe@corp.io';
const CARD = 4111111111111111;

/** The test detector plus 16-digit card numbers (which tool JSON may carry as numbers). */
const detect: DetectFn = (text, options) => {
  const found = testDetect(text, options);
  for (const m of text.matchAll(/\b\d{16}\b/g)) found.push({ class: 'CREDIT_CARD', start: m.index, end: m.index + 16, score: 1, detector: 'test:card' });
  return found.sort((a, b) => a.start - b.start);
};

function options(extra: Partial<MaskOptions> = {}): MaskOptions {
  return { detect, pseudonymizer, modeFor: () => 'mask', ...extra };
}

function assertNoEmail(body: JsonObject): void {
  assert.equal(JSON.stringify(body).includes(EMAIL), false, JSON.stringify(body));
}

describe('wire map fields (OpenAI chat)', () => {
  it('masks tool and parameter descriptions, schemas, prediction, user, metadata, names and refusals; keeps property names', () => {
    const body: JsonObject = {
      model: 'm',
      messages: [
        { role: 'user', name: EMAIL, content: [{ type: 'text', text: 'hi' }, { type: 'file', file: { file_id: 'f', filename: `${EMAIL}.txt` } }] },
        { role: 'assistant', content: [{ type: 'refusal', refusal: `no mail to ${EMAIL}` }], refusal: `not to ${EMAIL}` },
      ],
      tools: [{ type: 'function', function: {
        name: 'send', description: `sends as ${EMAIL}`,
        parameters: { type: 'object', properties: { description: { type: 'string', description: `like ${EMAIL}`, enum: [EMAIL], examples: [{ to: EMAIL }] } }, required: ['description'] },
      } }],
      response_format: { type: 'json_schema', json_schema: { name: 'r', description: `for ${EMAIL}`, schema: { type: 'object', title: EMAIL, properties: { a: { const: EMAIL } } } } },
      prediction: { type: 'content', content: [{ type: 'text', text: `file of ${EMAIL}` }] },
      user: EMAIL,
      metadata: { owner: EMAIL },
      stop: [EMAIL],
    };
    const result = maskRequestBody(body, 'openai-chat', options());
    assertNoEmail(body);
    assert.equal(result.redactions['EMAIL'], 15);
    const params = ((body['tools'] as JsonObject[])[0]!['function'] as JsonObject)['parameters'] as JsonObject;
    assert.deepEqual(Object.keys(params['properties'] as JsonObject), ['description'], 'property names stay');
    assert.deepEqual(params['required'], ['description']);
    assert.equal(((params['properties'] as JsonObject)['description'] as JsonObject)['type'], 'string');
  });

  it('masks a PII number in tool-call JSON as a string where the schema allows one', () => {
    const body: JsonObject = {
      messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'pay', arguments: JSON.stringify({ card: CARD, qty: 3, ids: [CARD] }) } }] }],
      tools: [{ type: 'function', function: { name: 'pay', strict: false, parameters: { type: 'object', properties: { card: { type: 'integer' } } } } }],
    };
    const result = maskRequestBody(body, 'openai-chat', options());
    const args = JSON.parse((((body['messages'] as JsonObject[])[0]!['tool_calls'] as JsonObject[])[0]!['function'] as JsonObject)['arguments'] as string);
    assert.match(args.card, /^CREDIT_CARD_[0-9A-F]{8}$/);
    assert.equal(args.ids[0], args.card);
    assert.equal(args.qty, 3);
    assert.equal(result.redactions['CREDIT_CARD'], 2);
    // Back: the restored value is the number's text.
    const matcher = new PseudonymMatcher(result.entries);
    assert.equal(reidentifyText(matcher, args.card), String(CARD));
  });

  it('refuses (blocks) a PII number a strict tool types as a number, naming where', () => {
    const body: JsonObject = {
      messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'pay', arguments: JSON.stringify({ card: CARD }) } }] }],
      tools: [{ type: 'function', function: { name: 'pay', strict: true, parameters: { type: 'object', properties: { card: { type: 'integer' } }, required: ['card'], additionalProperties: false } } }],
    };
    const before = JSON.stringify(body);
    const result = maskRequestBody(body, 'openai-chat', options());
    assert.equal(result.blocked?.class, 'CREDIT_CARD');
    assert.equal(result.blocked?.path, 'messages[0].tool_calls[0].function.arguments.card');
    assert.equal(JSON.stringify(body), before);
  });
});

describe('wire map fields (Anthropic messages)', () => {
  it('masks document blocks (text source, content source, title, context), search_result blocks and tool descriptions', () => {
    const body: JsonObject = {
      system: [{ type: 'text', text: `ops ${EMAIL}` }],
      tools: [{ name: 'mail', description: `as ${EMAIL}`, input_schema: { type: 'object', properties: { to: { type: 'string', description: EMAIL } } } }],
      metadata: { user_id: EMAIL },
      messages: [{
        role: 'user',
        content: [
          { type: 'document', source: { type: 'text', media_type: 'text/plain', data: `letter to ${EMAIL}` }, title: `Re: ${EMAIL}`, context: `owner ${EMAIL}` },
          { type: 'document', source: { type: 'content', content: [{ type: 'text', text: `cc ${EMAIL}` }] } },
          { type: 'search_result', source: `https://x.test/${EMAIL}`, title: `about ${EMAIL}`, content: [{ type: 'text', text: `found ${EMAIL}` }] },
          { type: 'tool_result', tool_use_id: 't', content: [{ type: 'search_result', source: 's', title: 't', content: [{ type: 'text', text: EMAIL }] }] },
        ],
      }],
    };
    const result = maskRequestBody(body, 'anthropic-messages', options());
    assertNoEmail(body);
    assert.equal(result.redactions['EMAIL'], 12);
  });
});

describe('wire map fields (Responses)', () => {
  it('masks input items, instructions, tools, text.format, prompt variables and function_call_output', () => {
    const body: JsonObject = {
      instructions: `serve ${EMAIL}`,
      input: [
        { role: 'user', content: [{ type: 'input_text', text: `hi ${EMAIL}` }, { type: 'input_file', file_id: 'f1', filename: `${EMAIL}.pdf` }] },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: `ok ${EMAIL}` }] },
        { type: 'function_call', call_id: 'c', name: 'f', arguments: JSON.stringify({ to: EMAIL }) },
        { type: 'function_call_output', call_id: 'c', output: `sent ${EMAIL}` },
        { type: 'reasoning', summary: [{ type: 'summary_text', text: `user is ${EMAIL}` }] },
      ],
      tools: [{ type: 'function', name: 'f', description: EMAIL, parameters: { type: 'object', properties: { to: { type: 'string', description: EMAIL } } } }],
      text: { format: { type: 'json_schema', name: 'x', description: EMAIL, schema: { type: 'object', description: EMAIL } } },
      prompt: { id: 'p', variables: { who: EMAIL } },
      metadata: { k: EMAIL },
      user: EMAIL,
    };
    const result = maskRequestBody(body, 'openai-responses', options());
    assertNoEmail(body);
    assert.equal(result.redactions['EMAIL'], 14);
  });

  it('masks a string input', () => {
    const body: JsonObject = { model: 'm', input: `mail ${EMAIL}` };
    maskRequestBody(body, 'openai-responses', options());
    assertNoEmail(body);
  });
});

describe('detection memo', () => {
  it('gives the same masked body and pseudonyms as detecting afresh, and scans only new text on the next turn', () => {
    const history = Array.from({ length: 40 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `turn ${i}: write to ${EMAIL} about ticket ${i} `.repeat(20) }));
    const turn = (n: number): JsonObject => ({ model: 'm', messages: [...history.slice(0, n).map((m) => ({ ...m }))] });
    const memo = new DetectionMemo(1 << 20);
    for (const n of [10, 20, 40]) {
      const plain = turn(n);
      const memoised = turn(n);
      const a = maskRequestBody(plain, 'openai-chat', options());
      const before = memo.scannedChars;
      const b = maskRequestBody(memoised, 'openai-chat', options({ memo }));
      assert.deepEqual(memoised, plain);
      assert.deepEqual(b.entries, a.entries);
      assert.deepEqual(b.redactions, a.redactions);
      const newChars = history.slice(n === 10 ? 0 : n / 2, n).reduce((s, m) => s + m.content.length, 0);
      assert.equal(memo.scannedChars - before, newChars, 'only messages not seen before were scanned');
    }
    assert.ok(memo.hits > 0 && memo.bytes > 0);
  });

  it('keys resent messages on the client\'s bytes: same result as afresh, and any other bytes are detected afresh', () => {
    const filler = 'a line of the conversation that is long enough to be memoised, '.repeat(3);
    // Two texts of one message with the same length, only one holding the value (which occurs
    // nowhere else, so no verbatim repeat can cover for a wrong memo hit).
    const clean = `${filler} mail to: ${'z'.repeat(EMAIL.length)}`;
    const dirty = `${filler} mail to: ${EMAIL}`;
    const messages = [
      { role: 'user', content: [{ type: 'text', text: clean }, { type: 'text', text: dirty }] },
      { role: 'assistant', content: `${filler} nothing to see` },
    ];
    // Turn 2 resends the same bytes; turn 3 swaps the two texts and escapes a character
    // differently; turn 4 moves the value to another message.
    const turns = [
      JSON.stringify({ model: 'm', messages }),
      JSON.stringify({ model: 'm', messages }),
      JSON.stringify({ model: 'm', messages: [
        { role: 'user', content: [{ type: 'text', text: dirty }, { type: 'text', text: clean }] },
        { role: 'assistant', content: `${filler} nothing to see` },
      ] }).replace('nothing', '\\u006eothing'),
      JSON.stringify({ model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: clean }, { type: 'text', text: clean }] }, { role: 'assistant', content: dirty }] }),
    ];
    const memo = new DetectionMemo(1 << 20);
    for (const [i, text] of turns.entries()) {
      const plain = JSON.parse(text) as JsonObject;
      const bytes = Buffer.from(text);
      const memoised = JSON.parse(text) as JsonObject;
      rememberRawRequest(memoised, bytes);
      const a = maskRequestBody(plain, 'openai-chat', options());
      const hits = memo.hits;
      const b = maskRequestBody(memoised, 'openai-chat', options({ memo }));
      assert.deepEqual(memoised, plain, `turn ${i + 1}`);
      assert.deepEqual(b.redactions, a.redactions);
      assertNoEmail(memoised);
      if (i === 1) assert.equal(memo.hits - hits, 3, 'every text of the resent bytes came from the memo');
    }
  });

  it('keys on the detect options too: another policy detects afresh', () => {
    const memo = new DetectionMemo(1 << 20);
    const text = `write to ${EMAIL} `.repeat(10);
    const all = memo.findings(text, undefined, detect);
    const onlyPhones = memo.findings(text, { classes: new Set(['PHONE']) }, detect);
    assert.ok(all.length > 0);
    assert.equal(onlyPhones.length, 0);
  });
});
