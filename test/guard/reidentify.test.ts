import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { TenantKeys } from '../../gateway/guard/pseudonym.js';
import { maskText, type MaskOptions } from '../../gateway/guard/mask-request.js';
import { PseudonymMatcher, ReidentifyingStream, reidentifyText } from '../../gateway/guard/reidentify-stream.js';
import { reidentifyBody } from '../../gateway/guard/reidentify.js';
import { wireMaps } from '../../gateway/wire/index.js';
import type { JsonObject } from '../../gateway/context.js';
import { testDetect, testNames } from './masking-test-detector.js';

const opts: MaskOptions = { detect: testDetect, pseudonymizer: new TenantKeys(randomBytes(32)).pseudonymizer('t'), modeFor: () => 'mask' };
const realisticOpts: MaskOptions = { ...opts, styleFor: () => 'realistic' };

// Entities the test detector finds. Lower-case emails: surface forms that normalise alike
// would share one pseudonym and come back in the first form seen (documented behaviour).
const email = fc
  .tuple(fc.stringMatching(/^[a-z][a-z0-9]{0,7}$/), fc.constantFrom('corp.io', 'mail.example.co', 'x.org'))
  .map(([user, domain]) => `${user}@${domain}`);
const apiKey = fc.stringMatching(/^[A-Za-z0-9]{20,28}$/).map((s) => `sk-${s}`);
const phone = fc.tuple(fc.integer({ min: 1, max: 99 }), fc.integer({ min: 100, max: 999 }), fc.integer({ min: 1000, max: 9999 }))
  .map(([cc, a, b]) => `+${cc} ${a} 555 ${b}`);
const person = fc.constantFrom(...testNames);
const entity = fc.oneof(email, apiKey, phone, person);
// Filler that cannot extend or form an entity; includes multi-byte and astral characters.
const filler = fc.string({ unit: fc.constantFrom('a', 'b', 'Q', 'E', 'P', '_', '1', ',', '.', '\n', '"', '\\', 'é', '日', '😀', '𝄞'), maxLength: 12 });

const textWithEntities = fc
  .array(fc.tuple(filler, entity), { minLength: 1, maxLength: 6 })
  .chain((parts) => filler.map((tail) => ({ parts, tail })))
  .map(({ parts, tail }) => ({
    text: parts.map(([f, e]) => `${f} ${e} `).join('') + tail,
    values: parts.map(([, e]) => e),
  }));

/** Cuts `text` at the given UTF-16 indices (sorted, deduplicated). */
function cut(text: string, at: number[]): string[] {
  const points = [...new Set(at.map((p) => p % (text.length + 1)))].sort((a, b) => a - b);
  const pieces: string[] = [];
  let prev = 0;
  for (const p of points) {
    pieces.push(text.slice(prev, p));
    prev = p;
  }
  pieces.push(text.slice(prev));
  return pieces;
}

function streamed(matcher: PseudonymMatcher, pieces: string[], jsonEscape = false): { out: string; outputs: string[] } {
  const s = new ReidentifyingStream(matcher, jsonEscape);
  const outputs = pieces.map((p) => s.push(p));
  outputs.push(s.flush());
  return { out: outputs.join(''), outputs };
}

describe('mask → re-identify (properties)', () => {
  it('the masked text contains none of the injected values, and re-identify(mask(x)) = x', () => {
    for (const o of [opts, realisticOpts]) {
      fc.assert(
        fc.property(textWithEntities, ({ text, values }) => {
          const { masked, result } = maskText(text, o);
          for (const v of values) assert.equal(masked.includes(v), false, `leaked ${v}`);
          assert.equal(reidentifyText(new PseudonymMatcher(result.entries), masked), text);
        }),
        { numRuns: 300 },
      );
    }
  });

  it('streaming equals non-stream for every way of cutting the stream', () => {
    fc.assert(
      fc.property(textWithEntities, fc.array(fc.nat(), { maxLength: 12 }), fc.boolean(), ({ text }, cuts, realistic) => {
        const { masked, result } = maskText(text, realistic ? realisticOpts : opts);
        const matcher = new PseudonymMatcher(result.entries);
        assert.equal(streamed(matcher, cut(masked, cuts)).out, text);
      }),
      { numRuns: 500 },
    );
  });

  it('exhaustively: every single cut and every one-character chunking, surrogate pairs included', () => {
    const text = `😀 Alice Johnson, 𝄞 mail a1@corp.io or sk-ABCDEFGHIJKLMNOPQRSTUV日 Alice Johnson`;
    const { masked, result } = maskText(text, opts);
    const matcher = new PseudonymMatcher(result.entries);
    for (let i = 0; i <= masked.length; i++) {
      assert.equal(streamed(matcher, [masked.slice(0, i), masked.slice(i)]).out, text, `cut at ${i}`);
      for (let j = i; j <= masked.length; j += 7) {
        assert.equal(streamed(matcher, [masked.slice(0, i), masked.slice(i, j), masked.slice(j)]).out, text, `cuts at ${i},${j}`);
      }
    }
    assert.equal(streamed(matcher, masked.split('')).out, text);
  });

  it('holds back only a possible pseudonym start, never plain text', () => {
    const matcher = new PseudonymMatcher([{ pseudonym: 'EMAIL_0A1B2C3D', value: 'a@b.co' }]);
    const s = new ReidentifyingStream(matcher);
    assert.equal(s.push('Hello EMAIL_0A1'), 'Hello ');
    assert.equal(s.push('B2C3D and EMAIL'), 'a@b.co and ');
    assert.equal(s.push('S are'), 'EMAILS are');
    assert.equal(s.push(' fine E'), ' fine ');
    assert.equal(s.flush(), 'E');
  });

  it('prefers the longest pseudonym at a position', () => {
    const matcher = new PseudonymMatcher([
      { pseudonym: 'Avery', value: 'Ann' },
      { pseudonym: 'Avery Bellamy', value: 'Ann Smith' },
    ]);
    assert.equal(reidentifyText(matcher, 'Avery Bellamy and Avery Bell'), 'Ann Smith and Ann Bell');
    assert.equal(streamed(matcher, ['Avery', ' Bell', 'amy']).out, 'Ann Smith');
  });
});

describe('re-identification inside JSON (tool-call arguments)', () => {
  const tricky = 'p"a\\ss\nw😀rd\u2028';
  const matcher = new PseudonymMatcher([
    { pseudonym: 'PASSWORD_0011AABB', value: tricky },
    { pseudonym: 'EMAIL_22CC33DD', value: 'ünï@corp.io' },
  ]);
  const args = JSON.stringify({ cmd: 'login --password PASSWORD_0011AABB', to: ['EMAIL_22CC33DD'] });

  it('escapes restored values so the arguments stay valid JSON, streamed or not', () => {
    const expected = { cmd: `login --password ${tricky}`, to: ['ünï@corp.io'] };
    assert.deepEqual(JSON.parse(reidentifyText(matcher, args, true)), expected);
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 10 }), (cuts) => {
        assert.deepEqual(JSON.parse(streamed(matcher, cut(args, cuts), true).out), expected);
      }),
      { numRuns: 300 },
    );
  });

  it('rewrites OpenAI and Anthropic answers in place', () => {
    const openai: JsonObject = {
      choices: [{ index: 0, message: { role: 'assistant', content: 'Mailed EMAIL_22CC33DD', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: args } }] } }],
    };
    assert.equal(reidentifyBody(wireMaps['openai-chat'], openai, matcher), true);
    const msg = (openai['choices'] as JsonObject[])[0]!['message'] as JsonObject;
    assert.equal(msg['content'], 'Mailed ünï@corp.io');
    const fn = (msg['tool_calls'] as JsonObject[])[0]!['function'] as JsonObject;
    assert.equal(JSON.parse(fn['arguments'] as string).cmd, `login --password ${tricky}`);

    const anthropic: JsonObject = {
      content: [
        { type: 'thinking', thinking: 'EMAIL_22CC33DD', signature: 's' },
        { type: 'text', text: 'To EMAIL_22CC33DD' },
        { type: 'tool_use', id: 't', name: 'f', input: { to: ['EMAIL_22CC33DD'], n: 1 } },
      ],
    };
    assert.equal(reidentifyBody(wireMaps['anthropic-messages'], anthropic, matcher), true);
    assert.deepEqual(anthropic['content'], [
      { type: 'thinking', thinking: 'EMAIL_22CC33DD', signature: 's' },
      { type: 'text', text: 'To ünï@corp.io' },
      { type: 'tool_use', id: 't', name: 'f', input: { to: ['ünï@corp.io'], n: 1 } },
    ]);
    assert.equal(reidentifyBody(wireMaps['openai-chat'], { choices: [{ message: { content: 'nothing here' } }] }, matcher), false);
  });
});
