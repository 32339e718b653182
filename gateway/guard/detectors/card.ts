/** CREDIT_CARD: 12–19 digit runs (plain, spaced or dashed) that pass Luhn and look like a card. */
import type { Finding } from '../types.js';
import { textBefore, type Detector } from './detector.js';

const CANDIDATE = /(?<![\w.\-+])\d(?:[ -]?\d){11,18}(?![\w]|[.\-]\d)/g;
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

function consistentSeparators(raw: string): boolean {
  const hasSpace = raw.includes(' ');
  const hasDash = raw.includes('-');
  return !(hasSpace && hasDash);
}

export const cardDetector: Detector = {
  name: 'card',
  classes: ['CREDIT_CARD'],
  applies: (text) => /\d{4}/.test(text),
  scan(text: string, out: Finding[]): void {
    CANDIDATE.lastIndex = 0;
    for (let m = CANDIDATE.exec(text); m !== null; m = CANDIDATE.exec(text)) {
      const raw = m[0];
      if (!consistentSeparators(raw)) continue;
      const digits = raw.replace(/[ -]/g, '');
      if (digits.length < 12 || digits.length > 19 || !luhnValid(digits)) continue;
      if (/^(\d)\1+$/.test(digits)) continue;
      const before = textBefore(text, m.index, 40);
      const cardContext = CARD_CONTEXT.test(before);
      if (!cardContext) {
        if (!plausibleIssuer(digits) || OTHER_CONTEXT.test(before)) continue;
        // `bytes=345253734759`: the value of some other key, not a card.
        if (/[a-z_]\s*[=:]\s*$/.test(before)) continue;
        // Epoch milliseconds (13 digits starting with 1) pass Luhn one time in ten.
        if (digits.length === 13 && digits.startsWith('1')) continue;
      }
      out.push({
        class: 'CREDIT_CARD', start: m.index, end: m.index + raw.length,
        score: cardContext ? 0.98 : 0.9, detector: 'luhn:credit_card',
      });
    }
  },
};
