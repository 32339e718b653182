import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { detect, resolveOverlaps } from '../../gateway/guard/detect.js';
import type { Finding } from '../../gateway/guard/types.js';

const TEXT = 'Mail jane.doe@acme-corp.io, card 4111 1111 1111 1111, employee E-99231 on project BLUEBIRD.';

describe('detect options', () => {
  it('restricts to the requested classes', () => {
    const all = detect(TEXT).map((f) => f.class);
    assert.ok(all.includes('EMAIL') && all.includes('CREDIT_CARD'));
    assert.deepEqual(detect(TEXT, { classes: new Set(['EMAIL']) }).map((f) => f.class), ['EMAIL']);
  });
  it('drops allow-listed values (case-insensitive) and keeps the rest', () => {
    const r = detect(TEXT, { allow: ['JANE.DOE@acme-corp.io'] });
    assert.deepEqual(r.map((f) => f.class), ['CREDIT_CARD']);
  });
  it('always reports deny-listed values with their class, winning overlaps', () => {
    const r = detect(TEXT, { deny: [{ value: 'BLUEBIRD', class: 'PROJECT' }, { value: 'jane.doe@acme-corp.io', class: 'EMPLOYEE_EMAIL' }] });
    const byClass = new Map(r.map((f) => [f.class, TEXT.slice(f.start, f.end)]));
    assert.equal(byClass.get('PROJECT'), 'BLUEBIRD');
    assert.equal(byClass.get('EMPLOYEE_EMAIL'), 'jane.doe@acme-corp.io');
    assert.equal(byClass.has('EMAIL'), false);
  });
  it('adds custom regex classes from policy, compiled once per list', () => {
    const customClasses = [{ name: 'EMPLOYEE_ID', pattern: '\\bE-\\d{5}\\b' }];
    const r = detect(TEXT, { customClasses });
    const hit = r.find((f) => f.class === 'EMPLOYEE_ID');
    assert.ok(hit);
    assert.equal(TEXT.slice(hit.start, hit.end), 'E-99231');
    assert.equal(hit.detector, 'custom:EMPLOYEE_ID');
    assert.deepEqual(detect(TEXT, { customClasses }), r);
  });
  it('survives custom patterns that match the empty string', () => {
    const r = detect('abc', { customClasses: [{ name: 'EMPTY', pattern: 'x*' }] });
    assert.deepEqual(r, []);
  });
  it('names the class of an invalid custom pattern', () => {
    assert.throws(() => detect(TEXT, { customClasses: [{ name: 'BROKEN', pattern: '(' }] }), /custom class BROKEN: invalid pattern/);
  });
  it('returns nothing for an empty text', () => {
    assert.deepEqual(detect(''), []);
  });
});

describe('resolveOverlaps', () => {
  const f = (cls: string, start: number, end: number, score = 0.9, detector = 'x'): Finding => ({ class: cls, start, end, score, detector });
  it('keeps the higher-priority class and sorts by start', () => {
    const r = resolveOverlaps([f('PERSON', 10, 20), f('EMAIL', 12, 30), f('PHONE', 0, 5)]);
    assert.deepEqual(r.map((x) => x.class), ['PHONE', 'EMAIL']);
  });
  it('lets adjacent findings both stand', () => {
    assert.equal(resolveOverlaps([f('EMAIL', 0, 5), f('PHONE', 5, 9)]).length, 2);
  });
});

describe('detect output invariants (property)', () => {
  const pieces = ['jane@acme-corp.io', '4111 1111 1111 1111', '+44 7700 900123', 'DE89370400440532013000', '123-45-6789',
    'Sarah Connor', 'password=hunter2hunter', 'https://www.jane-doe.dev/', '203.0.113.7', 'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1w',
    ' ', '\n', ', ', 'é', '🙂', ':', '=', '"', 'the ', 'and ', '12', 'Mr. ', '-----BEGIN PRIVATE KEY-----\nabc'];
  it('returns sorted, non-overlapping, in-bounds findings for any mix', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(...pieces), fc.string({ maxLength: 8 })), { maxLength: 30 }), (parts) => {
        const text = parts.join('');
        const r = detect(text);
        for (let i = 0; i < r.length; i++) {
          const x = r[i]!;
          assert.ok(x.start >= 0 && x.end <= text.length && x.start < x.end);
          assert.ok(x.score > 0 && x.score <= 1);
          if (i > 0) assert.ok(r[i - 1]!.end <= x.start);
        }
      }),
      { numRuns: 300, seed: 42 },
    );
  });
  it('finds an injected email wherever it sits among noise', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 }), (before, after) => {
        const text = `${before} jane@acme-corp.io ${after}`;
        const start = before.length + 1;
        const hits = detect(text).filter((x) => x.start <= start && x.end >= start + 'jane@acme-corp.io'.length);
        assert.equal(hits.length, 1);
      }),
      { numRuns: 200, seed: 7 },
    );
  });
});
