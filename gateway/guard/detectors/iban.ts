/** IBAN: country code + check digits + BBAN of the country's registered length, mod-97 checked. */
import type { Finding } from '../types.js';
import { TextView } from './text-view.js';
import { type Detector } from './detector.js';

/** Total IBAN length per country (SWIFT IBAN registry). */
const IBAN_LENGTH: Record<string, number> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28, CH: 21,
  CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FK: 18, FO: 18,
  FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HN: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23,
  IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27,
  MD: 24, ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18, NO: 15, OM: 23, PK: 24, PL: 28,
  PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27,
  SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
};

/** Sticky: tried two letters before a run of at least two digits. */
const START = /(?<![A-Za-z0-9])([A-Za-z]{2})(\d{2})(?=[ ]?[A-Za-z0-9])/y;

export function ibanChecksumValid(compact: string): boolean {
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let rem = 0;
  for (let i = 0; i < rearranged.length; i++) {
    const c = rearranged.charCodeAt(i);
    if (c >= 48 && c <= 57) rem = (rem * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) rem = (rem * 100 + (c - 55)) % 97;
    else return false;
  }
  return rem === 1;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

export const ibanDetector: Detector = {
  name: 'iban',
  classes: ['IBAN'],
  applies: (text, view?: TextView) => (view ? view.digitRun(2) : /[A-Za-z]{2}\d{2}/.test(text)),
  scan(text: string, out: Finding[], view: TextView = new TextView(text)): void {
    const runs = view.digitRuns();
    let last = 0;
    for (let k = 0; k < runs.length; k += 2) {
      const s = runs[k]! - 2;
      if (s < last || runs[k + 1]! - runs[k]! < 2 || !isLetter(text.charCodeAt(s)) || !isLetter(text.charCodeAt(s + 1))) continue;
      // START's look-behind: no letter or digit before the country code ("sha256", "utf16" are not tried).
      if (s > 0 && isAlnum(text.charCodeAt(s - 1))) continue;
      START.lastIndex = s;
      const m = START.exec(text);
      if (!m) continue;
      const length = IBAN_LENGTH[m[1]!.toUpperCase()];
      if (length === undefined) continue;
      // Walk exactly `length` alphanumerics, allowing single spaces between them (print format).
      let compact = m[1]!.toUpperCase() + m[2]!;
      let i = m.index + 4;
      while (compact.length < length && i < text.length) {
        const c = text.charCodeAt(i);
        if (isAlnum(c)) {
          compact += text[i]!.toUpperCase();
          i++;
        } else if (c === 32 && i + 1 < text.length && isAlnum(text.charCodeAt(i + 1))) {
          i++;
        } else break;
      }
      if (compact.length !== length) continue;
      if (i < text.length && isAlnum(text.charCodeAt(i))) continue;
      if (!ibanChecksumValid(compact)) continue;
      out.push({ class: 'IBAN', start: m.index, end: i, score: 0.98, detector: 'mod97:iban' });
      last = i;
    }
  },
};
