/** US_SSN: AAA-GG-SSSS with the SSA's area/group/serial rules; a bare 9-digit run only with context. */
import type { Finding } from '../types.js';
import type { TextView } from './text-view.js';
import { textBefore, type Detector } from './detector.js';

const SEPARATED = /(?<![\w\-.])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w]|[.\-]\d)/g;
const BARE = /(?<![\w\-.])(\d{3})(\d{2})(\d{4})(?![\w]|[.\-]\d)/g;
const SSN_CONTEXT = /\b(?:ssn|social security|social sec|ss#|ss no|tin|taxpayer)\b/;

export function validSsnParts(area: string, group: string, serial: string): boolean {
  if (area === '000' || area === '666' || area.charCodeAt(0) === 57 /* 9xx */) return false;
  return group !== '00' && serial !== '0000';
}

export const ssnDetector: Detector = {
  name: 'ssn',
  classes: ['US_SSN'],
  applies: (text, view?: TextView) => (view ? view.digitRun(3) : true) && /\d{3}[- ]?\d{2}[- ]?\d{4}/.test(text),
  scan(text: string, out: Finding[]): void {
    SEPARATED.lastIndex = 0;
    for (let m = SEPARATED.exec(text); m !== null; m = SEPARATED.exec(text)) {
      if (!validSsnParts(m[1]!, m[3]!, m[4]!)) continue;
      const context = SSN_CONTEXT.test(textBefore(text, m.index, 40));
      // "123 45 6789" is as often a phone number or an amount as an SSN: spaces need context.
      if (m[2] === ' ' && !context) continue;
      out.push({ class: 'US_SSN', start: m.index, end: m.index + m[0].length, score: context ? 0.98 : 0.9, detector: 'rule:us_ssn' });
    }
    BARE.lastIndex = 0;
    for (let m = BARE.exec(text); m !== null; m = BARE.exec(text)) {
      if (!validSsnParts(m[1]!, m[2]!, m[3]!)) continue;
      if (!SSN_CONTEXT.test(textBefore(text, m.index, 30))) continue;
      out.push({ class: 'US_SSN', start: m.index, end: m.index + m[0].length, score: 0.9, detector: 'rule:us_ssn' });
    }
  },
};
