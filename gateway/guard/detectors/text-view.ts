/**
 * What detectors learn about one text, learnt once and shared by every detector (detect() builds one
 * per text and hands it to each):
 *
 * - Cheap whole-text probes (a digit, an '@', a capital, …), each computed on first use, and the
 *   lower-cased text, which detect()'s detectors need only when the text holds a Kelvin sign.
 * - The shared scan: every run of ASCII digits (one native search), and every word start where a
 *   registered keyword begins (one search for the keywords of every family at once, see
 *   `keywordFamily`; a WebAssembly trie walk, keyword-scan.ts). Detectors anchored on numbers
 *   (streets, cards, phones, SSNs, IBANs, IPs, wallets) or on words ("password", "address",
 *   "born", provider key prefixes, name cues, CSV headers, "eyJ") visit only those positions and
 *   run their own pattern there, sticky, instead of each searching the whole text with its own
 *   regular expressions.
 *
 * The scan is a superset of where each detector's pattern can match: the detector re-checks every
 * candidate with that pattern, so what it finds does not depend on the scan, only how fast.
 */
import { KEYWORD_SCAN_MAX_LENGTH, KeywordScanner, keywordAlternation, wasmAvailable } from './keyword-scan.js';

export class TextView {
  readonly text: string;
  #lower: string | undefined;
  /** Probe results, one field each (a Map keyed by name cost more than the probes it saved). */
  #upper: boolean | undefined;
  #at: boolean | undefined;
  #colon: boolean | undefined;
  #equals: boolean | undefined;
  #dot: boolean | undefined;
  #sameLengthLower: boolean | undefined;
  #asciiFold: boolean | undefined;
  #digitRuns: number[] | undefined;
  #longestDigitRun = 0;
  #wordHits: number[] | undefined;
  #wordMasks: number[] | undefined;
  #separators: number[] | undefined;

  constructor(text: string) {
    this.text = text;
  }

  /**
   * A run of at least n ASCII digits (1–4). Read from the digit runs, which every number-led
   * detector lists anyway; a text without digits costs one search either way.
   */
  digitRun(n: 1 | 2 | 3 | 4): boolean {
    this.digitRuns();
    return this.#longestDigitRun >= n;
  }
  get hasDigit(): boolean {
    return this.digitRun(1);
  }
  get hasUpper(): boolean {
    return (this.#upper ??= /[A-Z\u00C0-\uFFFF]/.test(this.text));
  }
  get hasAt(): boolean {
    return (this.#at ??= this.text.includes('@'));
  }
  get hasColon(): boolean {
    return (this.#colon ??= this.text.includes(':'));
  }
  get hasEquals(): boolean {
    return (this.#equals ??= this.text.includes('='));
  }
  get hasDot(): boolean {
    return (this.#dot ??= this.text.includes('.'));
  }

  /**
   * Whether lower-casing keeps every offset. Only U+0130 "İ" changes length when lower-cased (it
   * becomes "i" + U+0307); every other code point, and the context-dependent final sigma, keeps it.
   */
  get lowerKeepsOffsets(): boolean {
    return (this.#sameLengthLower ??= !this.text.includes('\u0130'));
  }
  /**
   * Whether a case-insensitive (non-Unicode /i) search of the text finds exactly what a
   * case-sensitive search of the lower-cased text finds, for lower-case patterns made of the
   * characters of the registered keywords and of PERSON's CSV header words (ASCII and a few
   * Latin-1 letters; test/guard checks every code point against each): true unless the text holds one of
   * the two code points whose lower case holds ASCII ("İ" → "i̇", Kelvin sign "K" → "k"), which /i
   * does not fold. Then no lower-cased copy is needed.
   */
  get foldsLikeLower(): boolean {
    return (this.#asciiFold ??= this.lowerKeepsOffsets && !this.text.includes('\u212A'));
  }

  /** The lower-cased text, computed on first use. */
  lower(): string {
    return (this.#lower ??= this.text.toLowerCase());
  }

  /** Every maximal run of ASCII digits, flat: [start0, end0, start1, end1, …], ascending. */
  digitRuns(): readonly number[] {
    if (!this.#digitRuns) {
      const runs: number[] = [];
      const text = this.text;
      // The native search consumes each whole run (test() allocates no match array); its start is
      // read back by hand, as runs are short.
      DIGIT_RUN.lastIndex = 0;
      while (DIGIT_RUN.test(text)) {
        const end = DIGIT_RUN.lastIndex;
        let start = end - 1;
        while (start > 0) {
          const c = text.charCodeAt(start - 1);
          if (c < 48 || c > 57) break;
          start--;
        }
        runs.push(start, end);
        if (end - start > this.#longestDigitRun) this.#longestDigitRun = end - start;
      }
      this.#digitRuns = runs;
    }
    return this.#digitRuns;
  }

  /**
   * Every '=' and ':' of the text, ascending: `key=value` reads each, IPv6 its colons, provider
   * keys the '=' of "sig=" and the like, URLs the ':' of "://". Found once with two native searches
   * instead of once per detector.
   */
  separators(): readonly number[] {
    if (!this.#separators) {
      const at: number[] = [];
      const text = this.text;
      let equals = text.indexOf('=');
      let colon = text.indexOf(':');
      while (equals !== -1 || colon !== -1) {
        if (colon === -1 || (equals !== -1 && equals < colon)) {
          at.push(equals);
          equals = text.indexOf('=', equals + 1);
        } else {
          at.push(colon);
          colon = text.indexOf(':', colon + 1);
        }
      }
      this.#separators = at;
    }
    return this.#separators;
  }

  /**
   * Where a registered keyword starts a word (see `keywordFamily`), ascending, and for each the
   * families whose keywords start there (bit masks). Found by one search for all keywords at once:
   * the WebAssembly trie walk where it applies, else the alternation, which finds the same.
   */
  wordHits(): { readonly positions: readonly number[]; readonly masks: readonly number[] } {
    if (!this.#wordHits) {
      const positions: number[] = [];
      const masks: number[] = [];
      const keywords = compiledKeywords();
      // The case-insensitive form reads the text itself, with no lower-cased copy, when that finds
      // the same as the lower-case form over the lower-cased text (foldsLikeLower), and also when
      // lower-casing changes the text's length ("İ"). Only a Kelvin sign needs the copy.
      const folded = this.foldsLikeLower || !this.lowerKeepsOffsets;
      if (folded && keywords.scanner && this.text.length <= KEYWORD_SCAN_MAX_LENGTH) {
        // The same search as keywords.anyCase, by the WebAssembly trie walk (keyword-scan.ts).
        keywords.scanner.scan(this.text, positions, masks);
        const wordMasks = keywords.wordMasks;
        for (let h = 0; h < masks.length; h++) masks[h] = wordMasks[masks[h]!]!;
      } else {
        const hay = folded ? this.text : this.lower();
        const re = folded ? keywords.anyCase : keywords.lower;
        re.lastIndex = 0;
        for (let m = re.exec(hay); m !== null; m = re.exec(hay)) {
          positions.push(m.index);
          // A hit already in lower case (most are) is looked up as it is, without a lower-cased copy.
          const word = m[0];
          masks.push(keywords.masks.get(word) ?? (folded ? keywords.masks.get(word.toLowerCase()) : undefined) ?? ALL_FAMILIES);
        }
      }
      this.#wordHits = positions;
      this.#wordMasks = masks;
    }
    return { positions: this.#wordHits, masks: this.#wordMasks! };
  }
}

const DIGIT_RUN = /\d+/g;

/** Registered keyword (lower case) → the families that registered it. */
const KEYWORDS = new Map<string, number>();
let nextFamily = 1;
const ALL_FAMILIES = 0xffffffff;
interface CompiledKeywords {
  lower: RegExp;
  anyCase: RegExp;
  masks: Map<string, number>;
  /** The keywords, longest first, as the alternations list them. */
  words: readonly string[];
  /**
   * The same search as `anyCase`, by a WebAssembly trie walk; hits name keywords by index in
   * `words`. Undefined where the runtime has no WebAssembly (node --jitless): the alternation then.
   */
  scanner: KeywordScanner | undefined;
  /** Families per keyword index of the scanner. */
  wordMasks: number[];
}
let compiled: CompiledKeywords | undefined;

/**
 * Registers a family of keywords and returns its bit. Each keyword starts with an ASCII letter and
 * holds no space (a search consumes what it matches, and a space would hide the next word's start).
 * A word start (\b) where the lower-cased text begins with one of them is reported for the family;
 * the detector then checks its own pattern there.
 */
export function keywordFamily(keywords: readonly string[]): number {
  if (nextFamily === 0) throw new Error('TextView: too many keyword families');
  const bit = nextFamily;
  nextFamily = nextFamily === 0x40000000 ? 0 : nextFamily << 1;
  for (const k of keywords) {
    const word = k.toLowerCase();
    if (!/^[a-z]\S*$/.test(word)) throw new Error(`TextView: keyword "${k}" must start with an ASCII letter and hold no space`);
    KEYWORDS.set(word, (KEYWORDS.get(word) ?? 0) | bit);
  }
  compiled = undefined;
  return bit;
}

/**
 * One alternation of every keyword, longest first. The search takes the longest keyword at a word
 * start, so a hit's families are those of every registered keyword that is a prefix of it.
 */
function compiledKeywords(): CompiledKeywords {
  if (!compiled) {
    const words = [...KEYWORDS.keys()].sort((a, b) => b.length - a.length || (a < b ? -1 : 1));
    const masks = new Map<string, number>();
    for (const w of words) {
      let mask = 0;
      for (const [k, bits] of KEYWORDS) if (w.startsWith(k)) mask |= bits;
      masks.set(w, mask);
    }
    const source = keywordAlternation(words);
    compiled = {
      lower: new RegExp(source, 'g'),
      anyCase: new RegExp(source, 'gi'),
      masks,
      words,
      scanner: wasmAvailable() ? new KeywordScanner(words) : undefined,
      wordMasks: words.map((w) => masks.get(w)!),
    };
  }
  return compiled;
}

/** The keyword search's two forms over the same keywords, for tests: the alternation and the scanner. */
export function keywordSearches(): { readonly words: readonly string[]; readonly anyCase: RegExp; readonly scanner: KeywordScanner | undefined } {
  return compiledKeywords();
}

/** The registered keywords (lower case), for tests and docs. */
export function registeredKeywords(): string[] {
  return [...KEYWORDS.keys()];
}
