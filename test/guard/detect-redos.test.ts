import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detect } from '../../gateway/guard/detect.js';

/**
 * Adversarial 1 MB inputs shaped to make regex engines backtrack: each must finish (the test runner's
 * timeout is the guard) and give the right answer, including a real secret planted at the very end.
 */
const MB = 1 << 20;
const fill = (unit: string) => unit.repeat(Math.ceil(MB / unit.length)).slice(0, MB);
const TAIL_KEY = 'ghp_' + 'A1b2C3d4E5'.repeat(3) + 'F6g7H8';

const adversarial: Array<[string, string]> = [
  ['digits and separators', fill('1 2-3.4 (5) ')],
  ['one long digit run', fill('7')],
  ['at-signs', fill('a@b.')],
  ['assignments', fill('a=b:c=')],
  ['unterminated quotes', fill('key="x')],
  ['capitalised words', fill('Anna Berg ')],
  ['street-like words', fill('12 Main Street Apt ')],
  ['begin markers', fill('-----BEGIN ')],
  ['jwt prefixes', fill('eyJhbGciOi.')],
  ['url schemes', fill('http://')],
  ['hex and colons', fill('ab:cd:')],
  ['base58 letters', fill('1abcdefghijk')],
  ['iban-like', fill('DE12 ')],
  ['provider prefixes', fill('sk-AKIAghp_xox')],
  ['password words', fill('my password is pw: ')],
  ['query credentials', fill('https://a.io/?token=x&key=')],
  ['userinfo-like', fill('redis://:a#b@')],
  ['one scheme, then colons', 'ab://' + fill(':')],
  ['firm lists', fill('Skiles, Dach and Considine - ')],
  ['continental streets', fill('12 Rue de la Via Roma 5, ')],
  ['chat speakers', fill('Delia: Hi Marco,\n')],
];

describe('detect on 1 MB adversarial inputs', () => {
  for (const [name, body] of adversarial) {
    it(`${name}: completes and still finds the planted key`, { timeout: 60_000 }, () => {
      const text = body + ' token ' + TAIL_KEY;
      const r = detect(text);
      const last = r[r.length - 1];
      assert.ok(last, 'expected findings');
      assert.equal(text.slice(last.start, last.end), TAIL_KEY);
      assert.equal(last.class, 'API_KEY');
      for (let i = 1; i < r.length; i++) assert.ok(r[i - 1]!.end <= r[i]!.start);
    });
  }
});
