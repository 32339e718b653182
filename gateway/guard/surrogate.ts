/**
 * Format-preserving realistic surrogates: a fake but valid-looking email, phone, name, card
 * number, SSN or IP address, seeded by the value's HMAC so the same value always gets the same
 * surrogate. Models write more natural text around a name than around a token; the price is
 * that a model may alter a surrogate (e.g. use only the first name), which then is not restored.
 * Classes with no realistic form (keys, passwords...) use the compact token instead.
 */
import { createHash } from 'node:crypto';
import lexicons from './data/lexicons.json' with { type: 'json' };
import type { EntityClass } from './types.js';

// Given names and surnames from the shipped name lexicons (see data/LICENSES.md): ASCII only, so a
// surrogate never needs JSON escaping inside tool-call arguments, and never a common English word.
// Thousands of each, so two values of a tenant rarely even try the same name.
const { givenNames, surnames } = (() => {
  const english = new Set(lexicons.english.split('\n'));
  const given = new Set(lexicons.given.split('\n'));
  const cap = (w: string) => w[0]!.toUpperCase() + w.slice(1);
  return {
    givenNames: [...given].filter((w) => /^[a-z]{4,9}$/.test(w) && !english.has(w)).map(cap),
    surnames: lexicons.names.split('\n').filter((w) => /^[a-z]{5,11}$/.test(w) && !english.has(w) && !given.has(w)).map(cap),
  };
})();
// Reserved for documentation (RFC 2606): can never be a real person's mailbox.
const emailDomains = ['example.com', 'example.net', 'example.org'];

/** Bytes to draw from: the value's digest, re-hashed per attempt so retries give new candidates. */
class SeededBytes {
  #bytes: Buffer;
  #pos = 0;
  constructor(digest: Buffer, attempt: number) {
    this.#bytes = attempt === 0 ? digest : createHash('sha256').update(digest).update(String(attempt)).digest();
  }
  next(): number {
    if (this.#pos >= this.#bytes.length) {
      this.#bytes = createHash('sha256').update(this.#bytes).digest();
      this.#pos = 0;
    }
    return this.#bytes[this.#pos++]!;
  }
  pick<T>(list: readonly T[]): T {
    return list[((this.next() << 8) | this.next()) % list.length]!;
  }
  digit(): number {
    return this.next() % 10;
  }
}

export const realisticClasses: ReadonlySet<string> = new Set(['EMAIL', 'PHONE', 'PERSON', 'CREDIT_CARD', 'US_SSN', 'IP_ADDRESS']);

/**
 * Which value owns each surrogate handed out: class + surrogate → the value's digest (an HMAC under
 * the tenant's key, never the value). A candidate owned by another digest is skipped, so two
 * different values never share a surrogate — of one tenant or of two. Kept in memory for the
 * process's life; past MAX_OWNED entries the oldest are forgotten (at ~120 bytes each).
 */
const owners = new Map<string, string>();
const MAX_OWNED = 1_000_000;
/** Raw candidates tried per requested attempt before giving up (the caller then uses a token). */
const MAX_RAW_TRIES = 256;

function claim(cls: EntityClass, candidate: string, owner: string): boolean {
  const key = `${cls}\0${candidate}`;
  const current = owners.get(key);
  if (current !== undefined) return current === owner;
  if (owners.size >= MAX_OWNED) owners.delete(owners.keys().next().value!);
  owners.set(key, owner);
  return true;
}

/**
 * A surrogate for `value`, or undefined when the class has no realistic form (or, in a vast
 * surrogate space, none is left). `attempt` > 0 asks for another candidate (the caller retries when
 * one collides with a real value or text of the request). Candidates already owned by another
 * value are skipped, so attempt k is the k-th candidate this value may own.
 */
export function realisticSurrogate(cls: EntityClass, value: string, digest: Buffer, attempt: number): string | undefined {
  if (!realisticClasses.has(cls)) return undefined;
  const owner = digest.toString('hex', 0, 16);
  let free = -1;
  for (let raw = 0; raw < MAX_RAW_TRIES * (attempt + 1); raw++) {
    const candidate = rawSurrogate(cls, value, digest, raw);
    if (candidate === undefined) return undefined;
    if (!claim(cls, candidate, owner)) continue;
    if (++free === attempt) return candidate;
  }
  return undefined;
}

function rawSurrogate(cls: EntityClass, value: string, digest: Buffer, attempt: number): string | undefined {
  const rnd = new SeededBytes(digest, attempt);
  switch (cls) {
    case 'PERSON': {
      const words = value.trim().split(/\s+/).length;
      const first = rnd.pick(givenNames);
      return words <= 1 ? first : `${first} ${rnd.pick(surnames)}`;
    }
    case 'EMAIL':
      return `${rnd.pick(givenNames).toLowerCase()}.${rnd.pick(surnames).toLowerCase()}@${rnd.pick(emailDomains)}`;
    case 'PHONE':
      return replaceDigits(value, rnd, value.trimStart().startsWith('+') ? countryCodeLength(value) : 0);
    case 'CREDIT_CARD':
      return luhnSurrogate(value, rnd);
    case 'US_SSN': {
      // Area 001-899 minus 666, group 01-99, serial 0001-9999: passes the issuance rules.
      let area = 1 + ((rnd.next() << 8 | rnd.next()) % 899);
      if (area === 666) area = 667;
      const group = 1 + (rnd.next() % 99);
      const serial = 1 + ((rnd.next() << 8 | rnd.next()) % 9999);
      const digits = `${String(area).padStart(3, '0')}${String(group).padStart(2, '0')}${String(serial).padStart(4, '0')}`;
      let i = 0;
      return value.replace(/\d/g, () => digits[i++] ?? '0');
    }
    case 'IP_ADDRESS':
      if (value.includes(':')) return `2001:db8::${(rnd.next() << 8 | rnd.next()).toString(16)}`;
      // TEST-NET ranges (RFC 5737, documentation) and 198.18.0.0/15 (RFC 2544, benchmarking): never a real host.
      if (rnd.next() < 16) return `${rnd.pick(['192.0.2', '198.51.100', '203.0.113'])}.${1 + (rnd.next() % 254)}`;
      return `198.${18 + (rnd.next() & 1)}.${rnd.next()}.${1 + (rnd.next() % 254)}`;
    default:
      return undefined;
  }
}

function countryCodeLength(value: string): number {
  // "+1 ..." keeps 1 digit, "+44 ..." keeps 2; without a separator keep 1 (North America) as a guess.
  const m = /^\s*\+(\d{1,3})[\s.-]/.exec(value);
  return m ? m[1]!.length : 1;
}

/** Same length and separators; the first `keep` digits (country code) stay, the rest are drawn. */
function replaceDigits(value: string, rnd: SeededBytes, keep: number): string {
  let seen = 0;
  return value.replace(/\d/g, (d) => (seen++ < keep ? d : String(rnd.digit())));
}

/** Same length, separators and first digit (the card network); the check digit is recomputed. */
function luhnSurrogate(value: string, rnd: SeededBytes): string {
  const positions: number[] = [];
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) >= 48 && value.charCodeAt(i) <= 57) positions.push(i);
  if (positions.length < 2) return value.replace(/\d/g, () => String(rnd.digit()));
  const digits = positions.map((p, i) => (i === 0 ? Number(value[p]) : rnd.digit()));
  digits[digits.length - 1] = luhnCheckDigit(digits.slice(0, -1));
  const chars = value.split('');
  positions.forEach((p, i) => (chars[p] = String(digits[i])));
  return chars.join('');
}

export function luhnCheckDigit(payload: readonly number[]): number {
  let sum = 0;
  for (let i = payload.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = payload[i]!;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}
