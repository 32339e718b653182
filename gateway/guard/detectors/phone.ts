/**
 * PHONE: phone-shaped digit groups (international, national, NANP, with extensions). Numbers with a
 * '+' country code are checked against libphonenumber-js metadata (calling code and the possible
 * national lengths of its countries — libphonenumber's isPossible rule, without its per-call parse,
 * which costs ~15 µs); the rest by shape and by the words around them, because a bare digit run is
 * as often an id, an amount or a timestamp.
 */
import { getCountries, getCountryCallingCode, Metadata } from 'libphonenumber-js';
import type { Finding } from '../types.js';
import { TextView } from './text-view.js';
import { isDigitCode, textBefore, type Detector } from './detector.js';

const CANDIDATE = new RegExp(
  '(?<![\\w+.\\-/]|\\d[,:])'
  + '(?:\\+\\d{1,3}[ .\\-]?(?:\\(0\\)[ ]?)?|00\\d{1,3}[ .\\-])?'
  + '(?:\\(\\d{1,5}\\)[ .\\-]?)?'
  + '\\d{1,15}(?:[ .\\-]\\d{1,8}){0,5}'
  + '(?:[ ]?(?:x|ext\\.?|#)[ ]?\\d{1,6})?'
  + '(?![\\w/]|-\\d|\\.\\d|,\\d{3}(?![\\d\\-]))',
  'y',
);
const PHONE_CONTEXT = /\b(?:phone|tel|telephone|mobile|cell|cellphone|fax|call|calling|text|sms|whatsapp|reach|dial|contact|number|ring|landline|hotline)\b/;
const OTHER_CONTEXT = /\b(?:order|invoice|ticket|tracking|transaction|txn|id|ref|reference|account|acct|serial|sku|build|version|pid|port|uid|timestamp|epoch|card|cc|iban|ssn|isbn|zip|postcode|postal|amount|total|price|usd|eur|\$|€|£)\b|[#$€£]\s*$/;
const DATE_LIKE = /^(?:(?:19|20)\d\d(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])|(?:19|20)\d\d[\-. ](?:0?[1-9]|1[0-2])[\-. ](?:0?[1-9]|[12]\d|3[01])|(?:0?[1-9]|[12]\d|3[01])[\-. ](?:0?[1-9]|1[0-2])[\-. ](?:19|20)\d\d)(?:\D|$)/;

/** Calling code → possible national number lengths (union over the countries sharing the code). */
const POSSIBLE_LENGTHS: ReadonlyMap<string, ReadonlySet<number>> = (() => {
  const metadata = new Metadata();
  const byCode = new Map<string, Set<number>>();
  for (const country of getCountries()) {
    const code = getCountryCallingCode(country);
    metadata.selectNumberingPlan(country);
    const lengths = byCode.get(code) ?? new Set<number>();
    for (const l of metadata.numberingPlan?.possibleLengths() ?? []) lengths.add(l);
    byCode.set(code, lengths);
  }
  return byCode;
})();

/** `+41 (0)69 979 80 58`: calling code, then a national number of a possible length (trunk "(0)" dropped). */
export function possibleInternational(number: string): boolean {
  const digits = number.replace(/\(0\)/, '').replace(/\D/g, '');
  // Calling codes are prefix-free (E.164), so at most one of the three prefixes is a code.
  for (let k = 1; k <= 3; k++) {
    const lengths = POSSIBLE_LENGTHS.get(digits.slice(0, k));
    if (lengths) return lengths.has(digits.length - k);
  }
  return false;
}

/**
 * Whether a CANDIDATE match from a run of digits ending at `e` may reach past it. Inside a match a
 * run is followed only by a separator and the next group's first digit (`[ .\-]\d`), by a "00"
 * prefix's separator and an area code (`[ .\-]\(`), or by an extension (`[ ]?(?:x|ext\.?|#)[ ]?\d`);
 * the end look-ahead can only shorten a match.
 */
function mayExtendRun(text: string, e: number): boolean {
  const c = text.charCodeAt(e);
  if (c === 32 || c === 46 || c === 45) {
    const d = text.charCodeAt(e + 1);
    if (isDigitCode(d) || d === 40) return true; // "0049 (0)69 …": an area code after a "00" prefix
    return c === 32 && extensionAt(text, e + 1);
  }
  return extensionAt(text, e);
}
/** `(?:x|ext\.?|#)[ ]?\d` at `i`. */
function extensionAt(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  let j: number;
  if (c === 120 || c === 35) j = i + 1;
  else if (c === 101 && text.startsWith('xt', i + 1)) j = text.charCodeAt(i + 3) === 46 ? i + 4 : i + 3;
  else return false;
  if (text.charCodeAt(j) === 32) j++;
  return isDigitCode(text.charCodeAt(j));
}
function digitCountIn(text: string, start: number, end: number): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

function digitCount(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

export const phoneDetector: Detector = {
  name: 'phone',
  classes: ['PHONE'],
  applies: (text, view?: TextView) => (view ? view.digitRun(2) : /\d\d/.test(text)),
  scan(text: string, out: Finding[], view: TextView = new TextView(text)): void {
    // A match starts at a '+' or '(' right before a run of digits, or at the run itself (the
    // look-behind rules out any other start); each is tried in text order, as a search would.
    const runs = view.digitRuns();
    let last = 0;
    for (let k = 0; k < runs.length; k += 2) {
      const s = runs[k]!;
      const p = text.charCodeAt(s - 1);
      // test() with a sticky pattern gives the match's end without a match array.
      let start = -1;
      if ((p === 43 || p === 40) && s - 1 >= last) {
        CANDIDATE.lastIndex = s - 1;
        if (CANDIDATE.test(text)) start = s - 1;
      }
      // A match from the run itself reaches past the run only over a separator and a digit or an
      // extension (see mayExtendRun). Without one, a run of fewer than 7 digits
      // gives a match that is dropped below (fewer than 7 digits) and ends inside the run, before any
      // later run's start: not trying it changes nothing, and most runs in code are such.
      if (start === -1 && s >= last && (runs[k + 1]! - s >= 7 || mayExtendRun(text, runs[k + 1]!))) {
        CANDIDATE.lastIndex = s;
        if (CANDIDATE.test(text)) start = s;
      }
      if (start === -1) continue;
      const matchEnd = CANDIDATE.lastIndex;
      last = matchEnd;
      // Fewer than 7 digits in the whole match: fewer still without its extension.
      if (digitCountIn(text, start, matchEnd) < 7) continue;
      const raw = text.slice(start, matchEnd);
      const ext = /[ ]?(?:x|ext\.?|#)[ ]?\d{1,6}$/.exec(raw);
      const main = ext ? raw.slice(0, ext.index) : raw;
      const digits = digitCount(main);
      if (digits < 7 || digits > 15) continue;
      if (DATE_LIKE.test(main)) continue;
      const before = textBefore(text, start, 32);
      const context = PHONE_CONTEXT.test(before);
      const plus = main.charCodeAt(0) === 43;
      let score: number;
      if (plus) {
        if (!possibleInternational(main)) continue;
        score = 0.95;
      } else {
        if (!context && OTHER_CONTEXT.test(before)) continue;
        const groups = main.split(/[ .\-()]+/).filter(Boolean);
        const separated = groups.length > 1 || main.includes('(');
        if (!separated) {
          // `user_id=4155550132`: the value of some other key.
          if (!context && /[a-z_]\s*[=:]\s*$/.test(before)) continue;
          // A bare run: NANP-shaped 10 digits, or anything 7–15 digits with a phone word before it.
          if (!context && !(digits === 10 && /^[2-9]\d{2}[2-9]/.test(main))) continue;
        } else {
          if (main.includes('.')) {
            // Dotted: every group 2–4 digits (phone style), never a version-like "10.0.19041.1".
            if (groups.some((g) => g.length < 2 || g.length > 4)) continue;
          }
          // A 4-digit year as a group next to short groups is a date or a range, not a phone.
          if (groups.length === 2 && groups.some((g) => g.length === 1)) continue;
        }
        score = context ? 0.9 : 0.75;
      }
      out.push({ class: 'PHONE', start, end: matchEnd, score, detector: plus ? 'libphonenumber:phone' : 'rule:phone' });
    }
  },
};
