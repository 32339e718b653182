/**
 * The keyword search behind TextView.wordHits(), run as a small WebAssembly trie walk instead of one
 * regular-expression alternation. It finds exactly what `\b(?:k1|k2|…)` with flags `gi` finds, the
 * keywords sorted longest first (test/guard/keyword-scan.test.ts checks both on every code unit
 * and on random texts): at every word start, the longest registered keyword there, case folded as
 * a non-Unicode `/i` regular expression folds, the search going on after it.
 *
 * Why not the regular expression: V8 tries the alternation at every position of the text and its
 * cost follows how many first letters the keywords have (decisions 0070, 0087): ≈ 4–5 ms per MB,
 * the largest single cost of detect(). The trie walk reads each UTF-16 code unit once from linear
 * memory with two table loads, and starts a walk only at a word start whose first two units
 * begin some keyword (decided without a branch, so the loop does not pay the mispredictions the
 * regular expression pays at every word start). The text is copied in with one native write (Buffer#write, UTF-16LE, so offsets are
 * the string's own).
 *
 * The module's code is keyword-scan.wat, assembled into keyword-scan-wasm.ts by
 * `npm run build:wasm`; the test fails when the two differ.
 */
import { KEYWORD_SCAN_WASM } from './keyword-scan-wasm.js';

/** Texts longer than this go to the regular expression, so linear memory stays small (≈ 6 bytes per code unit). */
export const KEYWORD_SCAN_MAX_LENGTH = 1 << 20;

/** Every code unit's byte in the class table: bit 7 an ASCII word character, bits 0–6 its keyword class. */
const CLASS_TABLE_BYTES = 0x10000;
const WORD_BIT = 0x80;
/** A byte per pair of classes (128 × 128): 1 where some keyword starts with that pair. */
const PAIRS_AT = CLASS_TABLE_BYTES;
const PAIRS_BYTES = 128 * 128;
/** Zeros after the text: the scan reads the unit after the last one (more is kept for alignment). */
const PADDING_BYTES = 16;

/**
 * The little of the WebAssembly JS API used here: the project's lib (ES2023, no DOM) and
 * @types/node 20 do not declare it, though every supported Node has it.
 */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { readonly exports: object };
};

interface ScanExports {
  memory: WasmMemory;
  scan(text: number, len: number, pairs: number, trans: number, ends: number, classes: number, out: number): number;
}

let wasmModule: object | undefined;

/** False where the runtime exposes no WebAssembly (node --jitless); TextView then keeps the regular expression. */
export function wasmAvailable(): boolean {
  return typeof (globalThis as { WebAssembly?: unknown }).WebAssembly === 'object';
}

/** `text` as a literal inside a regular expression. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * The source of the alternation this scan finds exactly what of: `\b(?:k1|k2|…)` over the keywords
 * in the given order (longest first, so the first alternative that matches is the longest).
 */
export function keywordAlternation(words: readonly string[]): string {
  return `\\b(?:${words.map(literal).join('|')})`;
}

/** A case-insensitive non-Unicode regular expression matching exactly this one code unit. */
function matchesFolded(keywordUnit: string, unit: string): boolean {
  return new RegExp(literal(keywordUnit), 'i').test(unit);
}

/**
 * The code units a keyword character matches under non-Unicode `/i`: those whose single-unit upper
 * case equals its upper case, except non-ASCII units whose upper case is ASCII (the spec's
 * Canonicalize). The candidates are its upper and lower forms; each is confirmed by the engine
 * itself, and the test compares the whole table against the engine on all 65 536 code units.
 */
function foldedUnits(unit: string): string[] {
  const upper = unit.toUpperCase();
  const candidates = new Set([unit, upper, unit.toLowerCase(), upper.toLowerCase()]);
  return [...candidates].filter((c) => c.length === 1 && matchesFolded(unit, c));
}

export class KeywordScanner {
  readonly #exports: ScanExports;
  #bytes: Buffer;
  #units: Int32Array;
  readonly #trans: number;
  readonly #ends: number;
  readonly #classes: number;
  readonly #textAt: number;

  /**
   * @param words the keywords, lower case, in the order the alternation lists them (longest first):
   * where two fold to the same text, the first wins, as the alternation's first match does.
   */
  constructor(readonly words: readonly string[]) {
    // Classes: one per group of code units that fold together; 0 is "no keyword character".
    const classOf = new Map<number, number>();
    const groups: number[][] = [];
    for (const word of words) {
      for (const ch of word) {
        if (ch.length !== 1) throw new Error(`keyword "${word}" holds a character outside the BMP`);
        if (classOf.has(ch.charCodeAt(0))) continue;
        const units = foldedUnits(ch).map((u) => u.charCodeAt(0));
        const cls = groups.length + 1;
        if (cls > 127) throw new Error('keyword scan: more than 127 distinct keyword characters');
        groups.push(units);
        for (const u of units) {
          if (classOf.has(u)) throw new Error(`keyword scan: code unit ${u} folds into two classes`);
          classOf.set(u, cls);
        }
      }
    }
    const classes = groups.length + 1;
    // The trie: node 0 is the root; a node's row holds its child for each class (0 = none).
    const rows: number[][] = [new Array<number>(classes).fill(0)];
    const ends: number[] = [0];
    words.forEach((word, id) => {
      if (!/^[a-z]/.test(word)) throw new Error(`keyword "${word}" must start with an ASCII letter`);
      let node = 0;
      for (const ch of word) {
        const cls = classOf.get(ch.charCodeAt(0))!;
        let next = rows[node]![cls]!;
        if (next === 0) {
          next = rows.length;
          rows.push(new Array<number>(classes).fill(0));
          ends.push(0);
          rows[node]![cls] = next;
        }
        node = next;
      }
      if (ends[node] === 0) ends[node] = id + 1;
    });
    if (rows.length > 0xffff) throw new Error('keyword scan: the trie has more than 65 535 nodes');

    this.#trans = PAIRS_AT + PAIRS_BYTES;
    this.#ends = this.#trans + rows.length * classes * 2;
    this.#classes = classes;
    // One 0 unit before the text, which the scan reads as the unit before the first.
    this.#textAt = ((this.#ends + ends.length * 2 + 15) & ~15) + 16;
    wasmModule ??= new WebAssembly.Module(Buffer.from(KEYWORD_SCAN_WASM, 'base64'));
    this.#exports = new WebAssembly.Instance(wasmModule).exports as unknown as ScanExports;
    this.#bytes = Buffer.alloc(0);
    this.#units = new Int32Array(0);
    this.#reserve(4096);

    const bytes = this.#bytes;
    for (let u = 0; u < 128; u++) {
      if ((u >= 48 && u <= 57) || (u >= 65 && u <= 90) || (u >= 97 && u <= 122) || u === 95) bytes[u] = WORD_BIT;
    }
    for (const [u, cls] of classOf) bytes[u] = bytes[u]! | cls;
    for (const word of words) {
      const row = PAIRS_AT + (classOf.get(word.charCodeAt(0))! << 7);
      // A one-letter keyword may be followed by anything: its whole row.
      if (word.length === 1) bytes.fill(1, row, row + 128);
      else bytes[row + classOf.get(word.charCodeAt(1))!] = 1;
    }
    const trans = new Uint16Array(this.#exports.memory.buffer, this.#trans, rows.length * classes);
    rows.forEach((row, node) => trans.set(row, node * classes));
    new Uint16Array(this.#exports.memory.buffer, this.#ends, ends.length).set(ends);
  }

  /**
   * Grows linear memory to hold a text of `length` code units and its hits: at most one per two
   * units plus one, as hits do not overlap and two one-letter hits need a non-word unit between.
   */
  #reserve(length: number): void {
    const needed = this.#textAt + length * 2 + PADDING_BYTES + 8 + (length >> 1) * 8 + 8;
    const memory = this.#exports.memory;
    if (needed > memory.buffer.byteLength) {
      memory.grow(Math.ceil((needed - memory.buffer.byteLength) / 0x10000));
    }
    if (this.#bytes.buffer !== memory.buffer) {
      this.#bytes = Buffer.from(memory.buffer);
      this.#units = new Int32Array(memory.buffer);
    }
  }

  /**
   * Appends each hit's start to `positions` and its keyword's index in `words` to `ids`. The text
   * must be at most KEYWORD_SCAN_MAX_LENGTH code units long.
   */
  scan(text: string, positions: number[], ids: number[]): void {
    const length = text.length;
    this.#reserve(length);
    const bytes = this.#bytes;
    const end = this.#textAt + bytes.write(text, this.#textAt, 'utf16le');
    // The scan reads the unit after the last: a 0, no keyword character (hits of an earlier,
    // longer text may lie there).
    bytes.fill(0, end, end + PADDING_BYTES);
    // Hits go after the text, 8-aligned.
    const out = (end + PADDING_BYTES + 7) & ~7;
    const hits = this.#exports.scan(this.#textAt, length, PAIRS_AT, this.#trans, this.#ends, this.#classes, out);
    const units = this.#units;
    for (let h = 0, at = out >> 2; h < hits; h++, at += 2) {
      positions.push(units[at]!);
      ids.push(units[at + 1]!);
    }
    // No copy of the request's text stays in linear memory until the next scan (a memset).
    bytes.fill(0, this.#textAt, end);
  }
}
