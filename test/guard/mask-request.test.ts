import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { randomBytes } from 'node:crypto';
import type { JsonObject } from '../../gateway/context.js';
import { TenantKeys, normaliseValue } from '../../gateway/guard/pseudonym.js';
import { findVerbatim, maskRequestBody, maskText, type MaskOptions } from '../../gateway/guard/mask-request.js';
import { realisticSurrogate } from '../../gateway/guard/surrogate.js';
import { PseudonymMatcher, reidentifyText } from '../../gateway/guard/reidentify-stream.js';
import type { GuardMode } from '../../policies/guard-policy.js';
import type { DetectFn } from '../../gateway/guard/types.js';
import { testDetect } from './masking-test-detector.js';

const pseudonymizer = new TenantKeys(randomBytes(32)).pseudonymizer('acme');
const EMAIL = 'jane.doe@corp.io';
const KEY = 'sk-abcdefghijklmnopqrstuvwx';
const PHONE = '+1 415 555 0100';

function options(modes: Record<string, GuardMode> = {}, defaultMode: GuardMode = 'mask', detect: DetectFn = testDetect): MaskOptions {
  return { detect, pseudonymizer, modeFor: (c) => modes[c] ?? defaultMode };
}

function openAiBody(): JsonObject {
  return {
    model: 'm',
    messages: [
      { role: 'system', content: `Operator contact: ${EMAIL}` },
      { role: 'user', content: [{ type: 'text', text: `Call Alice Johnson at ${PHONE}` }, { type: 'image_url', image_url: { url: 'data:x' } }] },
      {
        role: 'assistant',
        content: null,
        reasoning_content: `User wants ${EMAIL}`,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'developer__shell', arguments: JSON.stringify({ command: `curl -H "Authorization: Bearer ${KEY}" x`, to: [EMAIL] }) } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: `mail sent to ${EMAIL}` },
    ],
  };
}

describe('maskRequestBody (OpenAI chat)', () => {
  it('masks every text the request carries and keeps tool arguments valid JSON', () => {
    const body = openAiBody();
    const result = maskRequestBody(body, 'openai-chat', options());
    const sent = JSON.stringify(body);
    for (const v of [EMAIL, KEY, PHONE, 'Alice Johnson']) assert.equal(sent.includes(v), false, `${v} leaked`);
    assert.deepEqual(result.redactions, { EMAIL: 4, PHONE: 1, PERSON: 1, API_KEY: 1 });
    assert.equal(result.entries.length, 4);
    const messages = body['messages'] as JsonObject[];
    const args = JSON.parse(((messages[2]!['tool_calls'] as JsonObject[])[0]!['function'] as JsonObject)['arguments'] as string);
    assert.match(args.command, /^curl -H "Authorization: Bearer API_KEY_[0-9A-F]{8}" x$/);
    assert.match(args.to[0], /^EMAIL_[0-9A-F]{8}$/);
    // Same value → same pseudonym everywhere in the request.
    assert.equal(messages[0]!['content'], `Operator contact: ${args.to[0]}`);
    assert.deepEqual((messages[1]!['content'] as JsonObject[])[1], { type: 'image_url', image_url: { url: 'data:x' } });
    const matcher = new PseudonymMatcher(result.entries);
    assert.equal(reidentifyText(matcher, messages[3]!['content'] as string), `mail sent to ${EMAIL}`);
  });

  it('gives the same pseudonyms in a later request of the same tenant (prompts still cache)', () => {
    const a = openAiBody();
    const b = openAiBody();
    maskRequestBody(a, 'openai-chat', options());
    maskRequestBody(b, 'openai-chat', options());
    assert.deepEqual(a, b);
  });

  it('leaves unparseable tool arguments as text, masked', () => {
    const body: JsonObject = { messages: [{ role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: `{"to": "${EMAIL}` } }] }] };
    maskRequestBody(body, 'openai-chat', options());
    assert.match(JSON.stringify(body), /\{\\"to\\": \\"EMAIL_[0-9A-F]{8}"/);
  });

  it('blocks without changing anything and says where, not what', () => {
    const body = openAiBody();
    const before = JSON.stringify(body);
    const result = maskRequestBody(body, 'openai-chat', options({ API_KEY: 'block' }));
    assert.equal(JSON.stringify(body), before);
    assert.deepEqual(result.blocked, {
      class: 'API_KEY', path: 'messages[2].tool_calls[0].function.arguments.command', messageIndex: 2, start: 31, end: 31 + KEY.length, count: 1,
    });
    assert.equal(`curl -H "Authorization: Bearer ${KEY} x`.indexOf(KEY), 31);
    assert.equal(JSON.stringify(result).includes(KEY), false);
  });

  it('records detect-only classes without masking them, and skips off classes', () => {
    const body = openAiBody();
    const result = maskRequestBody(body, 'openai-chat', options({ EMAIL: 'detect', PERSON: 'off' }, 'off'));
    assert.deepEqual(result.detections, { EMAIL: 4 });
    assert.deepEqual(result.redactions, {});
    assert.equal(result.changed, false);
    assert.ok(JSON.stringify(body).includes(EMAIL));
  });

  it('masks a value wherever it repeats verbatim, even where the detector missed it', () => {
    // A detector that only sees the first occurrence (e.g. context-dependent detection).
    const firstOnly: DetectFn = (text) => {
      const i = text.indexOf('Codename Zephyrus');
      return i === 0 ? [{ class: 'PERSON', start: 0, end: 17, score: 1, detector: 'test' }] : [];
    };
    const body: JsonObject = { messages: [{ role: 'user', content: 'Codename Zephyrus is ours' }, { role: 'user', content: 'tell Codename Zephyrus hi' }] };
    const result = maskRequestBody(body, 'openai-chat', options({}, 'mask', firstOnly));
    assert.equal(JSON.stringify(body).includes('Zephyrus'), false);
    assert.deepEqual(result.redactions, { PERSON: 2 });
  });

  it('gives a surface form its class\'s pseudonym: one per normalised value, another under another class', () => {
    // Pseudonyms are looked up by class and surface form before normalising: the same digits as
    // a PHONE and as an account number are two values; two spellings of one email are one.
    const byWord: DetectFn = (text) => {
      const found: Array<{ class: string; start: number; end: number; score: number; detector: string }> = [];
      for (const m of text.matchAll(/(phone|account|mail) (\S+)/g)) {
        const cls = m[1] === 'phone' ? 'PHONE' : m[1] === 'account' ? 'ACCOUNT' : 'EMAIL';
        found.push({ class: cls, start: m.index + m[1]!.length + 1, end: m.index + m[0].length, score: 1, detector: 'test' });
      }
      return found;
    };
    const { masked, result } = maskText('phone 4155550100 account 4155550100 phone 4155550100 mail Ana@Lima.pt mail ana@lima.pt', options({}, 'mask', byWord));
    const words = masked.split(' ');
    assert.match(words[1]!, /^PHONE_/);
    assert.match(words[3]!, /^ACCOUNT_/);
    assert.equal(words[5], words[1]);
    assert.match(words[7]!, /^EMAIL_/);
    assert.equal(words[9], words[7]);
    assert.deepEqual(result.entries.map((e) => `${e.class}:${e.value}`), ['PHONE:4155550100', 'ACCOUNT:4155550100', 'EMAIL:Ana@Lima.pt']);
  });
});

describe('verbatim repeats', () => {
  /** The trie scan every search used before (leftmost-longest, no word boundaries). */
  function byTrie(text: string, values: Array<{ pseudonym: string; value: string }>) {
    const out: Array<{ start: number; end: number; cls: string }> = [];
    new PseudonymMatcher(values, { wordBoundaries: false }).forEachMatch(text, (start, end, cls) => out.push({ start, end, cls }));
    return out;
  }

  it('finds the same repeats with indexOf per value as the trie does: leftmost-longest, no overlaps', () => {
    // A tiny alphabet, so values overlap, nest and share prefixes and suffixes all the time.
    const arbValue = fc.string({ unit: fc.constantFrom('a', 'b', 'c', 'é', '😀'), minLength: 1, maxLength: 5 });
    fc.assert(
      fc.property(fc.uniqueArray(arbValue, { minLength: 1, maxLength: 40 }), fc.array(fc.oneof(arbValue, fc.constantFrom('a', 'x', ' ')), { maxLength: 60 }), (values, pieces) => {
        const entries = values.map((v, i) => ({ pseudonym: v, value: `CLASS_${i % 3}` }));
        const text = pieces.join('');
        const found = findVerbatim(text, entries).map((f) => ({ start: f.start, end: f.end, cls: f.class }));
        assert.deepEqual(found, byTrie(text, entries));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('maskRequestBody (Anthropic messages)', () => {
  it('masks system, text blocks, tool_use input and tool_result content; leaves thinking as signed', () => {
    const body: JsonObject = {
      system: [{ type: 'text', text: `Support mailbox ${EMAIL}`, cache_control: { type: 'ephemeral' } }],
      messages: [
        { role: 'user', content: `I am Bob Martinez, ${PHONE}` },
        {
          role: 'assistant',
          content: [
            { type: 'thinking', thinking: 'plan: look up the caller', signature: 'sig' },
            { type: 'tool_use', id: 't1', name: 'lookup', input: { phone: PHONE, nested: { list: [EMAIL, 3] } } },
          ],
        },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: `owner Bob Martinez <${EMAIL}>` }] }] },
      ],
    };
    const result = maskRequestBody(body, 'anthropic-messages', options());
    const sent = JSON.stringify(body);
    for (const v of [EMAIL, PHONE, 'Bob Martinez']) assert.equal(sent.includes(v), false);
    assert.deepEqual(result.redactions, { EMAIL: 3, PHONE: 2, PERSON: 2 });
    const assistant = (body['messages'] as JsonObject[])[1]!['content'] as JsonObject[];
    assert.deepEqual(assistant[0], { type: 'thinking', thinking: 'plan: look up the caller', signature: 'sig' });
    assert.equal(((assistant[1]!['input'] as JsonObject)['nested'] as JsonObject)['list'] instanceof Array, true);
  });
});

describe('realistic style', () => {
  it('never hands out a surrogate that occurs in the request or is a real value', () => {
    const digest = pseudonymizer.digest('EMAIL', normaliseValue('EMAIL', EMAIL));
    const firstChoice = realisticSurrogate('EMAIL', EMAIL, digest, 0)!;
    const opts: MaskOptions = { ...options(), styleFor: () => 'realistic' };
    const plain = maskText(`write to ${EMAIL}`, opts);
    assert.equal(plain.masked, `write to ${firstChoice}`);
    // The first choice is someone real in this request: another candidate is used.
    const colliding = maskText(`write to ${EMAIL}, cc ${firstChoice}`, opts);
    const used = colliding.result.entries.find((e) => e.value === EMAIL)!.pseudonym;
    assert.notEqual(used, firstChoice);
    assert.match(used, /@example\.(com|net|org)$/);
    assert.equal(reidentifyText(new PseudonymMatcher(colliding.result.entries), colliding.masked), `write to ${EMAIL}, cc ${firstChoice}`);
  });

  it('falls back to tokens for classes without a realistic form', () => {
    const { masked } = maskText(`key ${KEY}`, { ...options(), styleFor: () => 'realistic' });
    assert.match(masked, /^key API_KEY_[0-9A-F]{8}$/);
  });
});
