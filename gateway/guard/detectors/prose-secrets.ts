/**
 * Secrets written in prose: "my password is …", "the password was …", "pw: …", "passphrase …",
 * "webhook secret is "…"". Anchored on the secret word; the value is the next token (or the quoted
 * text) with sentence punctuation trimmed, and it must look like a secret rather than a word
 * ("the password is required" names no password). `key=value` forms are assignments.ts's job.
 */
import type { Finding } from '../types.js';
import { isRegexSpace, isWordCode, type Detector } from './detector.js';
import { keywordFamily, TextView } from './text-view.js';
import { CODE_REFERENCE, PLACEHOLDER } from './assignments.js';

const CUE = /\b(password|passwd|passphrase|pass phrase|passcode|pwd|pw|webhook secret|signing secret|client secret|secret key|api key|api token|access token|secret|token)(?:\s*:\s*|\s+(?:(?:is|was)(?: now| set to| still| changed to)?|will be|remains|becomes|of|=)\s*:?\s*|\s+)/giy;
/** Where a cue may start: the shared index reports word starts of these (cues start a word). */
const CUE_WORDS = keywordFamily(['pass', 'pw', 'secret', 'token', 'api']);
const PASSWORD_WORD = /^(?:password|passwd|passphrase|pass phrase|passcode|pwd|pw)$/i;
const TRAILING = /[.,;:?)\]}>"'”’`]+$/;
const OPEN_QUOTES = new Set([34, 39, 96, 8220, 8216]);
const CLOSE_QUOTE: Record<number, number> = { 34: 34, 39: 39, 96: 96, 8220: 8221, 8216: 8217 };

/** [\w.$-] for one code unit. */
function isWordDotDollarOrDash(c: number): boolean {
  return isWordCode(c) || c === 46 || c === 36 || c === 45;
}

function looksLikeSecret(v: string, quoted: boolean, password: boolean): boolean {
  if (v.length < (quoted ? 4 : 6) || v.length > 200) return false;
  if (PLACEHOLDER.test(v) || CODE_REFERENCE.test(v) || v.includes('://') || /[()[\]{}]/.test(v)) return false;
  if (/^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/.test(v)) return false; // member access
  const hasDigit = /\d/.test(v);
  const hasSymbol = /[^A-Za-z0-9]/.test(v);
  const innerUpper = /[a-z][A-Z]/.test(v);
  if (!password) return v.length >= 12 && hasDigit && /[A-Za-z]/.test(v) && !/\s/.test(v);
  // A word or a capitalised word ("required", "Reset") is prose; a password carries a digit, a symbol or mixed case.
  return hasDigit || hasSymbol || innerUpper;
}

export const proseSecretDetector: Detector = {
  name: 'prose-secrets',
  classes: ['PASSWORD', 'API_KEY'],
  applies: (text, view?: TextView) => (view ? view.wordHits().masks.some((m) => (m & CUE_WORDS) !== 0) : /pass|pw|secret|token|api key/i.test(text)),
  scan(text: string, out: Finding[], view: TextView = new TextView(text)): void {
    const { positions, masks } = view.wordHits();
    for (let h = 0; h < positions.length; h++) {
      if ((masks[h]! & CUE_WORDS) === 0) continue;
      const at = positions[h]!;
      // The cue must start a word: "DB_PASSWORD" and "bypass" are not prose cues.
      if (at > 0 && isWordDotDollarOrDash(text.charCodeAt(at - 1))) continue;
      // "api" opens a cue only as "api key" ("api token" is found at "token").
      if ((text.charCodeAt(at) | 32) === 97 && text.slice(at, at + 7).toLowerCase() !== 'api key') continue;
      CUE.lastIndex = at;
      const m = CUE.exec(text);
      if (!m) continue;
      const from = at + m[0].length;
      if (from >= text.length) continue;
      let start = from;
      let end: number;
      let quoted = false;
      const q = text.charCodeAt(from);
      if (OPEN_QUOTES.has(q)) {
        const close = text.indexOf(String.fromCharCode(CLOSE_QUOTE[q]!), from + 1);
        const nl = text.indexOf('\n', from);
        if (close === -1 || (nl !== -1 && nl < close)) continue;
        start = from + 1;
        end = close;
        quoted = true;
      } else {
        end = from;
        while (end < text.length && !isRegexSpace(text.charCodeAt(end))) end++;
        const trailing = TRAILING.exec(text.slice(start, end));
        if (trailing) end -= trailing[0].length;
      }
      const v = text.slice(start, end);
      const password = PASSWORD_WORD.test(m[1]!);
      if (!looksLikeSecret(v, quoted, password)) continue;
      out.push({
        class: password ? 'PASSWORD' : 'API_KEY', start, end, score: 0.85,
        detector: password ? 'context:password' : 'context:secret',
      });
    }
  },
};
