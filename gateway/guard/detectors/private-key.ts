/** PRIVATE_KEY: PEM / OpenSSH / PGP private key blocks, also inside JSON strings with escaped newlines. */
import type { Finding } from '../types.js';
import { type Detector } from './detector.js';
import { keywordFamily, type TextView } from './text-view.js';

const BEGIN = /-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----/y;
/**
 * "BEGIN" after "-----" starts a word, which the keyword scan reports (no keyword holding a
 * non-word character before a "b" can span it: "d.o.b" needs ".o." where the marker has "---").
 */
const BEGIN_WORD = keywordFamily(['begin']);
function holdsBeginMarker(text: string, view: TextView): boolean {
  const { positions, masks } = view.wordHits();
  for (let h = 0; h < positions.length; h++) {
    if ((masks[h]! & BEGIN_WORD) !== 0 && positions[h]! >= 5 && text.startsWith('-----BEGIN ', positions[h]! - 5)) return true;
  }
  return false;
}

export const privateKeyDetector: Detector = {
  name: 'private-key',
  classes: ['PRIVATE_KEY'],
  applies: (text, view?: TextView) => (view ? holdsBeginMarker(text, view) : text.includes('-----BEGIN ')),
  scan(text: string, out: Finding[]): void {
    let at = text.indexOf('-----BEGIN ');
    while (at !== -1) {
      BEGIN.lastIndex = at;
      const m = BEGIN.exec(text);
      let next = at + 11;
      if (m) {
        const endMarker = `-----END ${m[1]}-----`;
        const endAt = text.indexOf(endMarker, at + m[0].length);
        let end: number;
        if (endAt !== -1) end = endAt + endMarker.length;
        else {
          // Truncated block: take the base64 body that follows (with real or JSON-escaped newlines).
          end = at + m[0].length;
          const body = /(?:\s|\\n|[A-Za-z0-9+/=:,\-])*/y;
          body.lastIndex = end;
          const b = body.exec(text);
          if (b) end += b[0].length;
        }
        out.push({ class: 'PRIVATE_KEY', start: at, end, score: 1, detector: 'pem:private_key' });
        next = end;
      }
      at = text.indexOf('-----BEGIN ', next);
    }
  },
};
