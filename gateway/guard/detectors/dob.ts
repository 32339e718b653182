/** DATE_OF_BIRTH: a date only counts when a birth word stands shortly before it. */
import type { Finding } from '../types.js';
import { keywordFamily, TextView } from './text-view.js';
import { type Detector } from './detector.js';

const BIRTH_WORD = /\b(?:born|birth|birthday|birthdate|dob|d\.o\.b\.?|b-day|bday|geboren|né|née)\b/iy;
/** The birth words start a word: the shared index reports where. */
const BIRTH_WORDS = keywordFamily(['born', 'birth', 'dob', 'd.o.b', 'b-day', 'bday', 'geboren', 'né']);
const MONTH = '(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\\.?';
const DATE = new RegExp(
  '(?:\\d{4}[-/.]\\d{1,2}[-/.]\\d{1,2}'
  + '|\\d{1,2}[-/.]\\d{1,2}[-/.](?:\\d{4}|\\d{2})'
  + `|\\d{1,2}(?:st|nd|rd|th)?(?: of)? ${MONTH},? \\d{4}`
  + `|${MONTH} \\d{1,2}(?:st|nd|rd|th)?,? \\d{4})(?!\\d)`,
  'iy',
);
const WINDOW = 48;
/** The birth words, lower-cased: one search for all of them. */
const BIRTH_HINT = /born|birth|dob|d\.o\.b|bday|b-day|geboren|né/;

export const dobDetector: Detector = {
  name: 'dob',
  classes: ['DATE_OF_BIRTH'],
  applies: (text, view?: TextView) => {
    if (!view) return /born|birth|dob|d\.o\.b|bday|b-day|geboren|née?\b/i.test(text);
    if (!view.hasDigit) return false;
    return view.wordHits().masks.some((m) => (m & BIRTH_WORDS) !== 0);
  },
  scan(text: string, out: Finding[], view: TextView = new TextView(text)): void {
    const { positions, masks } = view.wordHits();
    let lastEnd = 0;
    let wordEnd = 0;
    for (let h = 0; h < positions.length; h++) {
      if ((masks[h]! & BIRTH_WORDS) === 0 || positions[h]! < wordEnd) continue;
      BIRTH_WORD.lastIndex = positions[h]!;
      const m = BIRTH_WORD.exec(text);
      if (!m) continue;
      wordEnd = m.index + m[0].length;
      const limit = Math.min(text.length, m.index + m[0].length + WINDOW);
      for (let i = Math.max(lastEnd, m.index + m[0].length); i < limit; i++) {
        const c = text.charCodeAt(i);
        const startsToken = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
        if (!startsToken) continue;
        const p = text.charCodeAt(i - 1);
        if ((p >= 48 && p <= 57) || (p >= 65 && p <= 90) || (p >= 97 && p <= 122)) continue;
        DATE.lastIndex = i;
        const d = DATE.exec(text);
        if (d) {
          out.push({ class: 'DATE_OF_BIRTH', start: i, end: i + d[0].length, score: 0.9, detector: 'context:date_of_birth' });
          lastEnd = i + d[0].length;
          break;
        }
      }
    }
  },
};
