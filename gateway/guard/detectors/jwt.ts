/** JWT: three base64url segments whose header decodes to a JSON object naming an algorithm. */
import type { Finding } from '../types.js';
import { isWordCode, type Detector } from './detector.js';
import { keywordFamily, TextView } from './text-view.js';

const JWT_START = keywordFamily(['eyJ']);
const TOKEN = /eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*/y;

function headerLooksLikeJose(segment: string): boolean {
  try {
    const json = Buffer.from(segment, 'base64url').toString('utf8');
    return /"(?:alg|typ|kid|enc)"\s*:/.test(json);
  } catch {
    return false;
  }
}

export const jwtDetector: Detector = {
  name: 'jwt',
  classes: ['JWT'],
  applies: (text, view?: TextView) => (view ? view.wordHits().masks.some((m) => (m & JWT_START) !== 0) : text.includes('eyJ')),
  scan(text: string, out: Finding[], view: TextView = new TextView(text)): void {
    // A token starts a word with "eyJ" (the base64url of '{"'): the shared index reports where.
    const { positions, masks } = view.wordHits();
    let next = 0;
    for (let h = 0; h < positions.length; h++) {
      const at = positions[h]!;
      if ((masks[h]! & JWT_START) === 0 || at < next || !text.startsWith('eyJ', at)) continue;
      if (at === 0 || !isWordCode(text.charCodeAt(at - 1))) {
        TOKEN.lastIndex = at;
        const m = TOKEN.exec(text);
        if (m && headerLooksLikeJose(m[0].slice(0, m[0].indexOf('.')))) {
          out.push({ class: 'JWT', start: at, end: at + m[0].length, score: 0.99, detector: 'jose:jwt' });
          next = at + m[0].length;
        }
      }
    }
  },
};
