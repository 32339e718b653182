/** What every detector family implements, and the few text probes they share. */
import type { Finding } from '../types.js';
import type { TextView } from './text-view.js';

export interface Detector {
  /** Family name, used in docs and the bench; findings carry their own finer `detector` label. */
  readonly name: string;
  /** Classes this family can emit; detect() skips the family when none is wanted. */
  readonly classes: readonly string[];
  /**
   * Cheap whole-text test so most texts skip the real scan. detect() passes the TextView it built in
   * its one pass over the text; called alone, a detector builds what it needs.
   */
  applies(text: string, view?: TextView): boolean;
  /** Appends candidate findings; overlaps are resolved by detect(). */
  scan(text: string, out: Finding[], view?: TextView): void;
}

/** [A-Za-z0-9_] */
export function isWordCode(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

export function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** \s of a regular expression, by code unit. */
export function isRegexSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0 || c === 0x1680 || (c >= 0x2000 && c <= 0x200a) || c === 0x2028
    || c === 0x2029 || c === 0x202f || c === 0x205f || c === 0x3000 || c === 0xfeff;
}

/** Lower-cased text just before `start` (at most `size` chars), for context-word checks. */
export function textBefore(text: string, start: number, size: number): string {
  return text.slice(Math.max(0, start - size), start).toLowerCase();
}

/** Lower-cased text just after `end` (at most `size` chars). */
export function textAfter(text: string, end: number, size: number): string {
  return text.slice(end, Math.min(text.length, end + size)).toLowerCase();
}

/** Shannon entropy in bits per character. */
export function shannonEntropy(value: string): number {
  // ASCII values (all keys and tokens) count in a reused table instead of a Map; the sum runs in
  // the order characters first appear, as the Map's did, so the result is the same to the last bit.
  const n = value.length;
  let ascii = true;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128) { ascii = false; break; }
    if (ASCII_COUNTS[c]! === 0) ASCII_ORDER[distinct++] = c;
    ASCII_COUNTS[c] = ASCII_COUNTS[c]! + 1;
  }
  if (!ascii) {
    for (let k = 0; k < distinct; k++) ASCII_COUNTS[ASCII_ORDER[k]!] = 0;
    distinct = 0;
    return mapEntropy(value);
  }
  let bits = 0;
  for (let k = 0; k < distinct; k++) {
    const c = ASCII_ORDER[k]!;
    const p = ASCII_COUNTS[c]! / n;
    ASCII_COUNTS[c] = 0;
    bits -= p * Math.log2(p);
  }
  distinct = 0;
  return bits;
}
const ASCII_COUNTS = new Int32Array(128);
const ASCII_ORDER = new Uint8Array(128);
let distinct = 0;

function mapEntropy(value: string): number {
  const counts = new Map<number, number>();
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** Hosts that are never personal data: loopback, documentation and reserved names (RFC 2606/6761). */
export function isReservedHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (h === 'example.com' || h === 'example.org' || h === 'example.net' || h.endsWith('.example.com')
    || h.endsWith('.example.org') || h.endsWith('.example.net')) return true;
  if (h.endsWith('.example') || h.endsWith('.test') || h.endsWith('.invalid') || h === 'example') return true;
  if (h === '127.0.0.1' || h.startsWith('127.') || h === '0.0.0.0' || h === '[::1]' || h === '::1') return true;
  return false;
}
