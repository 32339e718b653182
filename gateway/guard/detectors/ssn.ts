/** US_SSN: AAA-GG-SSSS with the SSA's area/group/serial rules; a bare 9-digit run only with context. */
import type { Finding } from '../types.js';
import { TextView } from './text-view.js';
import { isDigitCode, textBefore, type Detector } from './detector.js';

/** Sticky: tried at runs of exactly three digits (separated) or nine digits (bare). */
const SEPARATED = /(?<![\w\-.])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w]|[.\-]\d)/y;
const BARE = /(?<![\w\-.])(\d{3})(\d{2})(\d{4})(?![\w]|[.\-]\d)/y;
const SSN_CONTEXT = /\b(?:ssn|social security|social sec|ss#|ss no|tin|taxpayer)\b/;

export function validSsnParts(area: string, group: string, serial: string): boolean {
  if (area === '000' || area === '666' || area.charCodeAt(0) === 57 /* 9xx */) return false;
  return group !== '00' && serial !== '0000';
}

export const ssnDetector: Detector = {
  name: 'ssn',
  classes: ['US_SSN'],
  applies: (text, view?: TextView) => (view ? view.digitRun(3) : /\d{3}[- ]?\d{2}[- ]?\d{4}/.test(text)),
  scan(text: string, out: Finding[], view: TextView = new TextView(text)): void {
    const runs = view.digitRuns();
    let last = 0;
    for (let k = 0; k < runs.length; k += 2) {
      const s = runs[k]!;
      if (s < last || runs[k + 1]! - s !== 3) continue;
      const sep = text.charCodeAt(s + 3);
      // "123-45-6789": two digits and the same separator must follow.
      if ((sep !== 45 && sep !== 32) || !isDigitCode(text.charCodeAt(s + 4)) || !isDigitCode(text.charCodeAt(s + 5)) || text.charCodeAt(s + 6) !== sep) continue;
      SEPARATED.lastIndex = s;
      const m = SEPARATED.exec(text);
      if (!m) continue;
      last = s + m[0].length;
      if (!validSsnParts(m[1]!, m[3]!, m[4]!)) continue;
      const context = SSN_CONTEXT.test(textBefore(text, m.index, 40));
      // "123 45 6789" is as often a phone number or an amount as an SSN: spaces need context.
      if (m[2] === ' ' && !context) continue;
      out.push({ class: 'US_SSN', start: m.index, end: m.index + m[0].length, score: context ? 0.98 : 0.9, detector: 'rule:us_ssn' });
    }
    for (let k = 0; k < runs.length; k += 2) {
      if (runs[k + 1]! - runs[k]! !== 9) continue;
      BARE.lastIndex = runs[k]!;
      const m = BARE.exec(text);
      if (!m) continue;
      if (!validSsnParts(m[1]!, m[2]!, m[3]!)) continue;
      if (!SSN_CONTEXT.test(textBefore(text, m.index, 30))) continue;
      out.push({ class: 'US_SSN', start: m.index, end: m.index + m[0].length, score: 0.9, detector: 'rule:us_ssn' });
    }
  },
};
