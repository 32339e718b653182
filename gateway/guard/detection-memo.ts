/**
 * Memo of detection results, so a long agent session costs in proportion to what is new:
 * Goose resends the whole conversation every turn, and each message or part it resent was
 * scanned on an earlier turn. Findings are keyed on a SHA-256 of the text plus the detect
 * options that shape the result (classes, allow/deny lists, custom classes), and kept in an LRU
 * bounded in bytes, one per tenant. It also keeps where a text repeats the request's masked
 * values verbatim, keyed on a hash of those values. Only offsets, classes and scores are kept —
 * never the text or a value — so the memo holds no personal data. Masking applies modes and assigns pseudonyms
 * afresh on every request, so a memoised request gets exactly the pseudonyms an unmemoised one
 * would.
 */
import { hash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { DetectFn, DetectOptions, Finding } from './types.js';

/**
 * Texts shorter than this are detected directly: hashing them costs about as much. Measured on
 * the 2-core VM: SHA-256 of a 32-character text ≈ 0.3–1 µs, detecting it ≈ 1–4 µs (a tool's
 * parameter description, resent every turn); below ~20 characters the two meet.
 */
const MIN_MEMO_CHARS = 24;
/** Below this even a named text is detected directly: detecting it is cheaper than its key. */
const MIN_NAMED_CHARS = 16;
/** Rough bytes of one entry beyond its findings (key, LRU bookkeeping). */
const ENTRY_OVERHEAD_BYTES = 160;
const FINDING_BYTES = 96;

/** Stable ids for option objects (resolved policies are long-lived and never mutated). */
const optionIds = new WeakMap<DetectOptions, number>();
let nextOptionId = 1;
function optionsId(options: DetectOptions | undefined): number {
  if (!options) return 0;
  let id = optionIds.get(options);
  if (id === undefined) optionIds.set(options, (id = nextOptionId++));
  return id;
}

/**
 * What the memo knows of one text held in a frozen object (see `heldText`): its findings under
 * one set of options, its key in the LRU, and where it last held a request's masked values.
 */
export interface HeldTextEntry {
  readonly text: string;
  readonly optionsId: number;
  readonly findings: readonly Finding[];
  readonly key: string | undefined;
  occurrences?: { valuesKey: string; found: readonly Finding[] };
}

export class DetectionMemo {
  readonly #lru: LRUCache<string, readonly Finding[]>;
  /**
   * Texts of frozen objects — the messages and top-level values kept from a conversation's
   * previous turn (wire/previous-turns.ts) — by object and key. A frozen object's values never
   * change, so the same object and key is the same text: found by identity, without building
   * its LRU key (a hash, or the item digest and path) or touching the LRU (warm masking of a 300 KB
   * turn: ≈ 15 % less, decision 0082). Held weakly: entries go with the kept turn. They hold offsets and classes only,
   * like the LRU, and are not counted in its bytes (bounded by the kept turns' own bound).
   */
  readonly #held = new WeakMap<object, Map<string | number, HeldTextEntry>>();
  hits = 0;
  misses = 0;
  /** Characters detected afresh (cache misses), the work the memo did not save. */
  scannedChars = 0;

  constructor(maxBytes: number) {
    this.#lru = new LRUCache<string, readonly Finding[]>({
      maxSize: maxBytes,
      sizeCalculation: (findings) => ENTRY_OVERHEAD_BYTES + findings.length * FINDING_BYTES,
    });
  }

  /**
   * The memo key of a text under these options; undefined for texts too short to memoise.
   * `rawName` names the text by the client's bytes when they are known (wire/raw-request.ts
   * `rawTextName`: the SHA-256 of the message's bytes and the path inside it), which identifies
   * the text as surely and costs less than hashing it. The two kinds of key never meet (`r`
   * prefix), so a text seen both ways is merely detected twice.
   */
  keyOf(text: string, options: DetectOptions | undefined, rawName?: () => string | undefined): string | undefined {
    if (text.length < MIN_MEMO_CHARS) {
      // A short text costs as much to hash as to detect, but naming it by the client's bytes
      // costs a string concatenation: a conversation's many short messages are then not detected
      // again on every turn.
      if (text.length < MIN_NAMED_CHARS || !rawName) return undefined;
      const short = rawName();
      return short === undefined ? undefined : `r${optionsId(options)}:${text.length}:${short}`;
    }
    const name = rawName?.();
    if (name !== undefined) return `r${optionsId(options)}:${text.length}:${name}`;
    return `${optionsId(options)}:${text.length}:${hash('sha256', text, 'base64')}`;
  }

  /** The detector's findings for `text`, from the memo when this text was seen with these options. */
  findings(text: string, options: DetectOptions | undefined, detect: DetectFn, key = this.keyOf(text, options)): readonly Finding[] {
    if (key === undefined) {
      this.scannedChars += text.length;
      return detect(text, options);
    }
    const known = this.#lru.get(key);
    if (known) {
      this.hits++;
      return known;
    }
    this.misses++;
    this.scannedChars += text.length;
    const found = detect(text, options);
    this.#lru.set(key, found);
    return found;
  }

  /**
   * The entry of `holder[key]` (a string) when `holder` is frozen: its findings from the entry
   * made on an earlier turn when the text and options are the same, else from the LRU (keyed as
   * `keyOf` would, `rawName` included) or the detector, and remembered for the next turn.
   * Undefined for a holder that is not frozen (its value could change under the entry).
   */
  heldText(holder: object, key: string | number, text: string, options: DetectOptions | undefined, detect: DetectFn, rawName?: () => string | undefined): HeldTextEntry | undefined {
    if (!Object.isFrozen(holder)) return undefined;
    let texts = this.#held.get(holder);
    const id = optionsId(options);
    const known = texts?.get(key);
    if (known && known.text === text && known.optionsId === id) {
      this.hits++;
      return known;
    }
    const memoKey = this.keyOf(text, options, rawName);
    const entry: HeldTextEntry = { text, optionsId: id, findings: this.findings(text, options, detect, memoKey), key: memoKey };
    if (!texts) this.#held.set(holder, (texts = new Map()));
    texts.set(key, entry);
    return entry;
  }

  /** Occurrences (as `occurrences`) for a held text, kept on its entry. */
  heldOccurrences(entry: HeldTextEntry, valuesKey: string, search: () => Finding[]): readonly Finding[] {
    const known = entry.occurrences;
    if (known && known.valuesKey === valuesKey) return known.found;
    const found = entry.key !== undefined ? this.occurrences(entry.key, valuesKey, search) : search();
    entry.occurrences = { valuesKey, found };
    return found;
  }

  /**
   * Where a text (by its key) holds any of a request's masked values verbatim, memoised on the
   * set of values (`valuesKey`): turn after turn the values rarely change, and then the resent
   * history is not searched again. `search` gives the occurrences when they are not known.
   */
  occurrences(key: string, valuesKey: string, search: () => Finding[]): readonly Finding[] {
    const k = `v:${valuesKey}:${key}`;
    const known = this.#lru.get(k);
    if (known) return known;
    const found = search();
    this.#lru.set(k, found);
    return found;
  }

  /** Bytes accounted in the LRU (its bound is the constructor's maxBytes). */
  get bytes(): number {
    return this.#lru.calculatedSize;
  }

  get entries(): number {
    return this.#lru.size;
  }
}

/** One memo per tenant, each bounded in bytes; the least recently active tenants are dropped first. */
export class TenantDetectionMemos {
  readonly #byTenant: LRUCache<string, DetectionMemo>;
  readonly #maxBytesPerTenant: number;

  constructor(opts: { maxBytesPerTenant: number; maxTenants?: number }) {
    this.#maxBytesPerTenant = opts.maxBytesPerTenant;
    this.#byTenant = new LRUCache<string, DetectionMemo>({ max: opts.maxTenants ?? 1000 });
  }

  forTenant(tenantId: string): DetectionMemo {
    let memo = this.#byTenant.get(tenantId);
    if (!memo) this.#byTenant.set(tenantId, (memo = new DetectionMemo(this.#maxBytesPerTenant)));
    return memo;
  }

  /** The bound of each tenant's memo. */
  get maxBytesPerTenant(): number {
    return this.#maxBytesPerTenant;
  }

  /** Total bytes held across tenants. */
  get bytes(): number {
    let total = 0;
    for (const memo of this.#byTenant.values()) total += memo.bytes;
    return total;
  }
}
