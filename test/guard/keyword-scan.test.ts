import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { KEYWORD_SCAN_MAX_LENGTH, KeywordScanner, keywordAlternation } from '../../gateway/guard/detectors/keyword-scan.js';
import { keywordSearches, TextView } from '../../gateway/guard/detectors/text-view.js';
// Importing detect registers every family's keywords.
import { detect } from '../../gateway/guard/detect.js';
import { generatedKeywordScan } from '../../scripts/build-wasm.mjs';

/**
 * The WebAssembly keyword scan must find exactly what the alternation `\b(?:…)`/gi finds: the same
 * word starts, the same keyword at each (the longest), the search resuming after each hit. Every
 * detector that reads keyword hits relies on that to stay fail closed.
 */
const searches = keywordSearches();
const { words, anyCase } = searches;
assert.ok(searches.scanner, 'this Node has WebAssembly');
const scanner = searches.scanner;
const idOf = new Map(words.map((w, i) => [w, i]));
const exactly = words.map((w) => new RegExp(`^${w.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'i'));

/** Which keyword the alternation matched: the first (longest) alternative matching the hit's text. */
function keywordOf(hit: string): number {
  const guess = idOf.get(hit.toLowerCase());
  if (guess !== undefined && exactly[guess]!.test(hit) && !exactly.slice(0, guess).some((re) => re.test(hit))) return guess;
  return exactly.findIndex((re) => re.test(hit));
}

function viaRegex(text: string): [number[], number[]] {
  const positions: number[] = [];
  const ids: number[] = [];
  anyCase.lastIndex = 0;
  for (let m = anyCase.exec(text); m !== null; m = anyCase.exec(text)) {
    positions.push(m.index);
    ids.push(keywordOf(m[0]));
  }
  return [positions, ids];
}

function viaScanner(text: string, s: KeywordScanner = scanner): [number[], number[]] {
  const positions: number[] = [];
  const ids: number[] = [];
  s.scan(text, positions, ids);
  return [positions, ids];
}

function assertSame(text: string, label = ''): void {
  const [rp, ri] = viaRegex(text);
  const [sp, si] = viaScanner(text);
  if (rp.join() !== sp.join() || ri.join() !== si.join()) {
    const at = rp.findIndex((p, k) => p !== sp[k] || ri[k] !== si[k]);
    const near = Math.max(0, (rp[at] ?? sp[at] ?? 0) - 10);
    assert.fail(`${label} hits differ at hit ${at}: regex ${rp[at]}:${words[ri[at]!]} scanner ${sp[at]}:${words[si[at]!]} near ${JSON.stringify(text.slice(near, near + 30))}`);
  }
}

describe('WebAssembly keyword scan', () => {
  it('is what keyword-scan.wat assembles to (npm run build:wasm)', async () => {
    const current = readFileSync(new URL('../../gateway/guard/detectors/keyword-scan-wasm.ts', import.meta.url), 'utf8');
    assert.equal(current, await generatedKeywordScan(), 'keyword-scan-wasm.ts is stale: run npm run build:wasm');
  });

  it('folds every one of the 65 536 code units as the regular expression does, in every keyword position', () => {
    // Each keyword character in turn is replaced by every code unit, in one long text per keyword
    // and position ("…x…" variants between spaces); both searches must agree on all of them.
    const units = Array.from({ length: 0x10000 }, (_, u) => String.fromCharCode(u));
    const seen = new Set<string>();
    for (const word of words) {
      for (let k = 0; k < word.length; k++) {
        const key = `${word[k]}@${k === 0 ? 0 : 1}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const text = units.map((u) => word.slice(0, k) + u + word.slice(k + 1)).join(' ');
        assertSame(text, `"${word}" position ${k}`);
      }
    }
    assert.ok(seen.size > 40);
  });

  it('agrees with the regular expression on random texts built from keyword pieces', () => {
    const piece = fc.oneof(
      fc.constantFrom(...words),
      fc.constantFrom(...words).map((w) => w.toUpperCase()),
      fc.constantFrom(...words).map((w) => w.slice(0, Math.max(1, w.length - 1))),
      fc.constantFrom(' ', '\n', '_', '-', '.', '/', "'", '0', '9', 'x', 'É', 'é', 'ß', 'İ', '\u212A', '\u017F', '\u0000', '\ud800', '\udc00', '😀', '≈'),
      fc.string({ maxLength: 4 }),
    );
    fc.assert(fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
      assertSame(pieces.join(''));
    }), { numRuns: 2000 });
  });

  it('agrees on this repository\'s own sources, one file per text', () => {
    for (const file of ['gateway/guard/detectors/person.ts', 'gateway/guard/detectors/address.ts', 'docs/privacy-guard.md', 'README.md']) {
      assertSame(readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8'), file);
    }
  });

  it('builds the same search from any keyword list: one-letter keywords, shared prefixes, Latin-1', () => {
    const custom = ['straße', 'rúa', 'ab-c', 'ab', 'a', 'x', 'x.'].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
    const re = new RegExp(keywordAlternation(custom), 'gi');
    const own = new KeywordScanner(custom);
    fc.assert(fc.property(fc.array(fc.constantFrom('a', 'A', 'b', 'x', 'X', '.', '-', 'c', ' ', 'ß', 'Ú', 'ú', 'r', 's', 't', 'e', '_', '1'), { maxLength: 30 }), (chars) => {
      const text = chars.join('');
      const expected: number[] = [];
      re.lastIndex = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) expected.push(m.index, custom.indexOf(m[0].toLowerCase()));
      const positions: number[] = [];
      const ids: number[] = [];
      own.scan(text, positions, ids);
      assert.deepEqual(positions.flatMap((p, k) => [p, ids[k]!]), expected, JSON.stringify(text));
    }), { numRuns: 3000 });
    // The densest text: a one-letter hit at every other unit.
    const dense = 'a '.repeat(5000) + 'a';
    const positions: number[] = [];
    own.scan(dense, positions, []);
    assert.equal(positions.length, 5001);
  });

  it('handles empty and one-unit texts, and keywords at both ends', () => {
    assert.deepEqual(viaScanner(''), [[], []]);
    assert.deepEqual(viaScanner('a'), [[], []]);
    for (const text of ['pw', 'x pw', 'pw x', 'apt', 'Apt.', 'c/', 'xpw', 'pw_', 'd.o.b', 'eyJ']) assertSame(text, text);
  });

  it('grows its memory for a long text and still reads short ones after it', () => {
    const fresh = new KeywordScanner(words);
    const long = 'my password is x, ship to Rue 5. '.repeat(30_000);
    assert.ok(long.length < KEYWORD_SCAN_MAX_LENGTH);
    const [lp] = viaScanner(long, fresh);
    assert.equal(lp.length, viaRegex(long)[0].length);
    assert.deepEqual(viaScanner('pw 1', fresh), viaRegex('pw 1'));
  });

  it('without WebAssembly (node --jitless) detection falls back to the regular expression', () => {
    const script = `import { detect } from './gateway/guard/detect.ts';
      console.log(JSON.stringify(detect('my password is hunter2!, ship to 12 Rue de Rivoli, Paris').map((f) => f.class)));`;
    const out = execFileSync(process.execPath, ['--jitless', '--no-warnings', '--import', 'tsx', '--input-type=module', '-e', script],
      { cwd: new URL('../..', import.meta.url), encoding: 'utf8' });
    const withWasm = detect('my password is hunter2!, ship to 12 Rue de Rivoli, Paris').map((f) => f.class);
    assert.deepEqual(JSON.parse(out), withWasm);
    assert.ok(withWasm.includes('PASSWORD'));
  });

  it('TextView uses the regular expression past the scanner\'s length limit, with the same hits', () => {
    const unit = 'Name: Ada, born 1990, token abc. ';
    const long = unit.repeat(Math.ceil((KEYWORD_SCAN_MAX_LENGTH + 10) / unit.length));
    assert.ok(long.length > KEYWORD_SCAN_MAX_LENGTH);
    const short = long.slice(0, unit.length * 100);
    const longHits = new TextView(long).wordHits();
    const shortHits = new TextView(short).wordHits();
    assert.deepEqual(longHits.positions.slice(0, shortHits.positions.length), shortHits.positions);
    assert.deepEqual(longHits.masks.slice(0, shortHits.masks.length), shortHits.masks);
    assert.equal(longHits.positions.length, viaRegex(long)[0].length);
  });
});
