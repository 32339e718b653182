/** CREDIT_CARD: 12–19 digit runs (plain, spaced or dashed) that pass Luhn and look like a card. */
import type { Finding } from '../types.js';
import { TextView } from './text-view.js';
import { textBefore, type Detector } from './detector.js';

/** Sticky: tried at the start of a run of digits (the look-behind rules out any other start). */
const CANDIDATE = /(?<![\w.\-+])\d(?:[ -]?\d){11,18}(?![\w]|[.\-]\d)/y;
const CARD_CONTEXT = /\b(?:card|cc|ccn|credit|debit|visa|master ?card|amex|american express|discover|jcb|diners|maestro|unionpay|pan|payment|pay with|charge)\b/;
/** Numbers whose context says they are something else (ids, orders, timestamps). */
const OTHER_CONTEXT = /\b(?:order|invoice|ticket|tracking|transaction|txn|id|ref|reference|account|acct|serial|sku|build|pid|uid|timestamp|epoch|ms|phone|tel|iban|isbn|imei)\b|#\s*$/;

export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

/** Issuer prefixes (IIN ranges) of the card networks in use. */
function plausibleIssuer(d: string): boolean {
  const c = d.charCodeAt(0) - 48;
  if (c >= 2 && c <= 6) return true;
  return d.startsWith('1800') || d.startsWith('0604');
}

/**
 * A network's IIN range together with a length it issues: Visa, Mastercard (51–55, 2221–2720),
 * Amex, Discover, JCB, Diners Club, UnionPay. With Luhn this is a card whatever words surround it.
 */
export function networkValid(d: string): boolean {
  const n = d.length;
  const p2 = Number(d.slice(0, 2));
  const p3 = Number(d.slice(0, 3));
  const p4 = Number(d.slice(0, 4));
  const p6 = Number(d.slice(0, 6));
  if (d.charCodeAt(0) === 52) return n === 13 || n === 16 || n === 19; // Visa
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16; // Mastercard
  if (p2 === 34 || p2 === 37) return n === 15; // Amex
  if (p4 === 6011 || (p3 >= 644 && p3 <= 649) || p2 === 65 || (p6 >= 622126 && p6 <= 622925)) return n >= 16 && n <= 19; // Discover
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19; // JCB
  if (p2 === 36 || (p3 >= 300 && p3 <= 305) || p2 === 38 || p2 === 39) return n >= 14 && n <= 19; // Diners
  if (p2 === 62) return n >= 16 && n <= 19; // UnionPay
  return false;
}

/** Plain, or grouped the way cards are printed: 4-4-4-4(-3) or 4-6-5 (Amex) or 4-6-4 (Diners). */
function printedGrouping(raw: string): boolean {
  if (!raw.includes(' ') && !raw.includes('-')) return true;
  const groups = raw.split(/[ -]/).map((g) => g.length).join(',');
  return groups === '4,4,4,4' || groups === '4,4,4,4,3' || groups === '4,6,5' || groups === '4,6,4' || groups === '4,4,4,1' || groups === '4,4,4,4,1';
}

function consistentSeparators(raw: string): boolean {
  const hasSpace = raw.includes(' ');
  const hasDash = raw.includes('-');
  return !(hasSpace && hasDash);
}

export const cardDetector: Detector = {
  name: 'card',
  classes: ['CREDIT_CARD'],
  applies: (text, view?: TextView) => (view ? view.digitRun(4) : /\d{4}/.test(text)),
  scan(text: string, out: Finding[], view: TextView = new TextView(text)): void {
    const runs = view.digitRuns();
    let last = 0;
    for (let k = 0; k < runs.length; k += 2) {
      const s = runs[k]!;
      if (s < last) continue;
      // At least 12 digits in runs joined by single spaces or dashes, or no match can start here.
      let digits = runs[k + 1]! - s;
      for (let j = k + 2; digits < 12 && j < runs.length && runs[j]! === runs[j - 1]! + 1; j += 2) {
        const sep = text.charCodeAt(runs[j - 1]!);
        if (sep !== 32 && sep !== 45) break;
        digits += runs[j + 1]! - runs[j]!;
      }
      if (digits < 12) continue;
      CANDIDATE.lastIndex = s;
      const m = CANDIDATE.exec(text);
      if (!m) continue;
      last = s + m[0].length;
      const raw = m[0];
      if (!consistentSeparators(raw)) continue;
      const number = raw.replace(/[ -]/g, '');
      if (number.length < 12 || number.length > 19 || !luhnValid(number)) continue;
      if (/^(\d)\1+$/.test(number)) continue;
      const before = textBefore(text, m.index, 40);
      const cardContext = CARD_CONTEXT.test(before);
      // Luhn plus a network's prefix and length, as printed: a card, whatever word stands before it
      // ("invoice", "order", "id"). Context may only lower the score.
      const structural = networkValid(number) && printedGrouping(raw);
      if (!cardContext && !structural) {
        if (!plausibleIssuer(number) || OTHER_CONTEXT.test(before)) continue;
        // `bytes=345253734759`: the value of some other key, not a card.
        if (/[a-z_]\s*[=:]\s*$/.test(before)) continue;
        // Epoch milliseconds (13 digits starting with 1) pass Luhn one time in ten.
        if (number.length === 13 && number.startsWith('1')) continue;
      }
      const score = cardContext ? 0.98 : structural && OTHER_CONTEXT.test(before) ? 0.8 : 0.9;
      out.push({ class: 'CREDIT_CARD', start: m.index, end: m.index + raw.length, score, detector: 'luhn:credit_card' });
    }
  },
};
