/**
 * The previous request of each conversation, kept so that the next turn — which resends it
 * whole — does not parse or hash the resent part again (decision 0076).
 *
 * Goose sends the whole conversation on every turn: turn n+1's body is turn n's body up to the
 * end of its last message, then the new messages. A kept turn holds the request's bytes, where
 * its messages sit in them, the SHA-256 of each message's bytes once computed, and the parsed
 * messages that nothing wrote into (deep-frozen, so no later stage can change them unseen). A new
 * body whose leading messages are byte-for-byte those of a kept turn takes those messages from
 * it: the same bytes parse to the same value, so nothing is lost by not parsing them again.
 *
 * This is conversation text held in memory (never written, logged or sent anywhere), so it is
 * bounded: by bytes across all callers, by a few conversations per caller, and by age. Callers
 * are kept apart (a partition per credential), so one caller's timing can never reveal whether
 * another sent some text. `gateway.guard.previousTurnsMegabytes: 0` keeps none.
 */
import { LRUCache } from 'lru-cache';
import type { JsonValue } from '../context.js';

/** One kept request: its bytes and what was learnt of its conversation array. */
export interface TurnRecord {
  readonly bytes: Buffer;
  /** The top-level array of the conversation (`messages`, or Responses `input`). */
  readonly key: string;
  /** Offset of the array's `[` and of its `]`, and the top-level keys seen up to `[` (its own included). */
  readonly open: number;
  readonly close: number;
  readonly keysBeforeItems: readonly string[];
  /** Byte range of each item. */
  readonly ranges: ReadonlyArray<readonly [number, number]>;
  /** Parsed items nothing wrote into, deep-frozen; undefined where an item must be parsed afresh. */
  readonly items: ReadonlyArray<JsonValue | undefined>;
  /**
   * The body's top-level entries in order (the array's own as `[]`), deep-frozen, as parsed; absent
   * when masking wrote into one of them.
   */
  readonly outside: ReadonlyArray<readonly [string, JsonValue]> | undefined;
  /** SHA-256 (base64) of an item's bytes, by index, where one was computed. */
  readonly digests: ReadonlyMap<number, string>;
  /** Items masking wrote into on that turn. */
  readonly rewritten: ReadonlySet<number>;
  /**
   * How the upstream payload patched each rewritten item (byte ranges and pseudonyms, never the
   * replaced text), keyed by the changes made; filled in when that turn's payload is built.
   */
  readonly plans: ReadonlyMap<number, { key: string; plan: ReadonlyArray<number | Buffer> }>;
}

/** A kept turn whose first `count` items are byte-for-byte at the start of a new body. */
export interface TurnMatch {
  record: TurnRecord;
  count: number;
}

/** Conversations kept per caller: Goose runs a few at once (sessions, subagents). */
const RECORDS_PER_PARTITION = 8;
/** A conversation idle this long is dropped: its text should not linger in memory. */
const IDLE_MS = 10 * 60_000;
/** Parsed strings take about twice their UTF-8 bytes; the bytes themselves once more. */
const BYTES_PER_BODY_BYTE = 3;
/** Compared in chunks this big, so a body that differs early costs little. */
const COMPARE_CHUNK = 64 * 1024;

export class PreviousTurns {
  readonly #partitions: LRUCache<string, TurnRecord[]>;

  constructor(maxBytes: number) {
    this.#partitions = new LRUCache<string, TurnRecord[]>({
      maxSize: maxBytes,
      sizeCalculation: (records) => Math.max(1, records.reduce((n, r) => n + r.bytes.length * BYTES_PER_BODY_BYTE + 512, 0)),
      ttl: IDLE_MS,
      updateAgeOnGet: false,
    });
  }

  /** The kept turn of `partition` that shares the most leading items with `bytes`, if any. */
  match(partition: string, bytes: Buffer, key: string): TurnMatch | undefined {
    const records = this.#partitions.get(partition);
    if (!records) return undefined;
    let best: TurnMatch | undefined;
    for (const record of records) {
      if (record.key !== key || record.ranges.length === 0) continue;
      const last = record.ranges[record.ranges.length - 1]![1];
      const same = commonPrefix(bytes, record.bytes, last);
      const count = itemsWithin(record.ranges, same);
      if (count > 0 && count > (best?.count ?? 0)) best = { record, count };
      if (count === record.ranges.length) break;
    }
    return best;
  }

  /** Keeps `record` as its conversation's latest turn (in place of `replaces`, the turn it continued). */
  remember(partition: string, record: TurnRecord, replaces?: TurnRecord): void {
    const records = (this.#partitions.get(partition) ?? []).filter((r) => r !== replaces);
    records.unshift(record);
    if (records.length > RECORDS_PER_PARTITION) records.length = RECORDS_PER_PARTITION;
    this.#partitions.set(partition, records);
  }

  /** Bytes accounted (bodies × 3), for reports. */
  get bytes(): number {
    return this.#partitions.calculatedSize;
  }
}

/** Length of the common prefix of `a` and `b`, looked at up to `limit` bytes. */
export function commonPrefix(a: Buffer, b: Buffer, limit: number): number {
  const end = Math.min(limit, a.length, b.length);
  let pos = 0;
  while (pos < end) {
    const next = Math.min(end, pos + COMPARE_CHUNK);
    if (a.compare(b, pos, next, pos, next) === 0) {
      pos = next;
      continue;
    }
    // The first difference is in [pos, next): halve until it is found.
    let lo = pos;
    let hi = next;
    while (hi - lo > 64) {
      const mid = (lo + hi) >>> 1;
      if (a.compare(b, lo, mid, lo, mid) === 0) lo = mid;
      else hi = mid;
    }
    while (lo < hi && a[lo] === b[lo]) lo++;
    return lo;
  }
  return end;
}

/** How many leading items end within the first `length` bytes. */
function itemsWithin(ranges: ReadonlyArray<readonly [number, number]>, length: number): number {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ranges[mid]![1] <= length) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Freezes a parsed JSON value and everything in it. */
export function deepFreeze<T extends JsonValue | undefined>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
