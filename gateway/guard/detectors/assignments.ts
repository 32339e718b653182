/**
 * Secrets written as assignments — `password=…`, `DB_PASSWORD: …`, `"api_key": "…"`, `Pwd=…;` in
 * connection strings — and generic high-entropy values next to any key. Anchored on '=' and ':'
 * characters (indexOf), reading the key to the left and the value to the right by hand: no regex
 * runs over the whole text, and nothing can backtrack.
 */
import type { Finding } from '../types.js';
import { TextView } from './text-view.js';
import { shannonEntropy, type Detector } from './detector.js';

const PASSWORD_KEY = /pass(?:word|wd|phrase)?|pwd|pswd|passcode/i;
const SECRET_KEY = /secret|token|api_?key|apikey|access_?key|private_?key|^auth$|_auth$|auth_?(?:key|code|string)|authorization|credential|client_?secret|signing_?key|encryption_?key|master_?key|session_?key|^key$|_key$|bearer/i;
/** Either of the two: one test for the common key that is neither. */
const SECRET_NAMED_KEY = new RegExp(`${PASSWORD_KEY.source}|${SECRET_KEY.source}`, 'i');
/** Key segments that name something about a secret, not the secret itself. */
const NOT_A_SECRET_SEGMENT = new Set([
  'hash', 'hashed', 'length', 'len', 'min', 'max', 'policy', 'field', 'label', 'placeholder', 'hint', 'prompt',
  'regex', 'pattern', 'rule', 'rules', 'required', 'expire', 'expires', 'expiry', 'expiration', 'ttl', 'file',
  'path', 'url', 'uri', 'endpoint', 'type', 'name', 'id', 'count', 'header', 'strength', 'reset', 'enabled',
  'mode', 'format', 'version', 'size', 'limit', 'timeout', 'public', 'env', 'var', 'input', 'error', 'message',
  'valid', 'validation', 'changed', 'updated', 'created', 'at', 'prefix', 'suffix', 'location', 'store', 'provider',
  'method', 'kind', 'scope', 'scopes', 'usage', 'used', 'uses', 'template', 'class', 'style', 'dir', 'manager',
]);
/** Keys whose values are high-entropy by nature and not secret. */
const NON_SECRET_KEYS = /(?:^|_|-|\.)(?:sha\d*|md5|checksum|digest|integrity|etag|commit|rev|revision|uuid|guid|id|ids|version|mappings|hash|src|href|image|data|fingerprint|nonce|request_?id|trace_?id|span_?id)$/i;
export const PLACEHOLDER = /^(?:\*+|x{3,}|\.{3}|null|none|nil|undefined|true|false|string|str|number|int|integer|bool|boolean|any|object|required|optional|redacted|hidden|masked|example|placeholder|changeme|your[_\- ]?\w*|<[^>]*>|\{\{.*\}\}|\$\{.*\}|\$[A-Za-z_]\w*|%\(?\w*\)?s?|\[[^\]]*\])$/i;
export const CODE_REFERENCE = /^(?:(?:sha\d*|md5|blake\d*)[:\-]|process\.env|os\.environ|os\.getenv|env\(|getenv|System\.getenv|config\.|settings\.|self\.|this\.|args\.|options\.|opts\.|params\.|req\.|request\.|ENV\[)/;

/**
 * Every SECRET_NAMED_KEY match holds one of these words (case-insensitively), so a key that lacks
 * the letters of all of them is not secret-named: most keys are ruled out from the letters read
 * while finding the key, with no slice or regex.
 */
const SECRET_NAME_WORDS = ['pass', 'pwd', 'pswd', 'secret', 'token', 'key', 'auth', 'credential', 'bearer'];
const SECRET_NAME_LETTERS = SECRET_NAME_WORDS.map((w) => [...w].reduce((m, ch) => m | (1 << (ch.charCodeAt(0) - 97)), 0));
function mayBeSecretNamed(letters: number): boolean {
  for (const need of SECRET_NAME_LETTERS) if ((letters & need) === need) return true;
  return false;
}

/** ASCII code → 1 for key characters, 2 for the token characters looksRandom() accepts: one load per test. */
const ASCII_CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const alnum = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  if (alnum || c === 95 || c === 45 || c === 46) ASCII_CLASS[c]! |= 1;
  // + / = _ - . ~
  if (alnum || c === 43 || c === 47 || c === 61 || c === 95 || c === 45 || c === 46 || c === 126) ASCII_CLASS[c]! |= 2;
}
/** A–Z a–z 0–9 _ - . */
function isKeyCode(c: number): boolean {
  return c < 128 && (ASCII_CLASS[c]! & 1) !== 0;
}
function isSpace(c: number): boolean {
  return c === 32 || c === 9;
}

/**
 * Whether a segment of the key text[start, end) names something about a secret: the key is split
 * at '_', '-' and '.' and between a lower-case letter or digit and a capital (snake, kebab, dotted
 * and camelCase keys), each segment lower-cased. Keys are ASCII (isKeyCode).
 */
function hasNonSecretSegment(text: string, start: number, end: number): boolean {
  let from = start;
  for (let i = start; i <= end; i++) {
    const c = i < end ? text.charCodeAt(i) : 95;
    const separator = c === 95 || c === 45 || c === 46;
    if (!separator && !(c >= 65 && c <= 90 && i > start && isLowerOrDigitCode(text.charCodeAt(i - 1)))) continue;
    if (i > from && i - from <= LONGEST_NON_SECRET_SEGMENT && NOT_A_SECRET_SEGMENT.has(text.slice(from, i).toLowerCase())) return true;
    from = separator ? i + 1 : i;
  }
  return false;
}
const LONGEST_NON_SECRET_SEGMENT = Math.max(...[...NOT_A_SECRET_SEGMENT].map((w) => w.length));
function isLowerOrDigitCode(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57);
}

function charClassTransitions(v: string): number {
  let prev = -1;
  let n = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    const k = c >= 48 && c <= 57 ? 0 : c >= 65 && c <= 90 ? 1 : c >= 97 && c <= 122 ? 2 : 3;
    if (prev !== -1 && k !== prev) n++;
    prev = k;
  }
  return n / Math.max(1, v.length - 1);
}

/** A random-looking token: long, mixed classes, high entropy, not an identifier or a path. */
export function looksRandom(v: string, minLength: number): boolean {
  if (v.length < minLength) return false;
  let upper = 0, lower = 0, digit = 0;
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c >= 65 && c <= 90) upper++;
    else if (c >= 97 && c <= 122) lower++;
    else if (c >= 48 && c <= 57) digit++;
    // + / = _ - . ~
    else if (c !== 43 && c !== 47 && c !== 61 && c !== 95 && c !== 45 && c !== 46 && c !== 126) return false;
  }
  if (upper < 2 || lower < 2 || digit < 2) return false;
  return shannonEntropy(v) >= 4 && charClassTransitions(v) >= 0.3;
}

/** The characters looksRandom() accepts: A–Z a–z 0–9 + / = _ - . ~ */
function isTokenCode(c: number): boolean {
  return c < 128 && (ASCII_CLASS[c]! & 2) !== 0;
}

/**
 * Whether the value read from `from` can pass looksRandom(v, 20): its first 20 characters (after
 * the spaces and the opening quote readValue skips) must all be token characters. Most values in
 * code and prose fail within a few characters, so they are never read in full.
 */
function mayHoldRandomValue(text: string, from: number): boolean {
  let i = from;
  let spaces = 0;
  while (i < text.length && isSpace(text.charCodeAt(i)) && spaces < 4) { i++; spaces++; }
  const q = text.charCodeAt(i);
  if (q === 34 || q === 39 || q === 96) i++;
  if (i + 20 > text.length) return false;
  for (let k = i; k < i + 20; k++) if (!isTokenCode(text.charCodeAt(k))) return false;
  return true;
}

interface Value { start: number; end: number; quoted: boolean }

function readValue(text: string, from: number): Value | null {
  let i = from;
  let spaces = 0;
  while (i < text.length && isSpace(text.charCodeAt(i)) && spaces < 4) { i++; spaces++; }
  if (i >= text.length) return null;
  const q = text.charCodeAt(i);
  if (q === 34 || q === 39 || q === 96) {
    const start = i + 1;
    let j = start;
    const limit = Math.min(text.length, start + 1024);
    while (j < limit) {
      const c = text.charCodeAt(j);
      if (c === q || c === 10 || c === 13) break;
      if (c === 92) j++;
      j++;
    }
    if (j >= text.length || text.charCodeAt(j) !== q) return null;
    return { start, end: j, quoted: true };
  }
  const start = i;
  let j = i;
  const limit = Math.min(text.length, start + 1024);
  while (j < limit) {
    const c = text.charCodeAt(j);
    // whitespace , ; & ) } ] " ' ` < >
    if (c <= 32 || c === 44 || c === 59 || c === 38 || c === 41 || c === 125 || c === 93 || c === 34 || c === 39
      || c === 96 || c === 60 || c === 62) break;
    j++;
  }
  // A sentence's full stop after an unquoted value is not part of it.
  while (j > start && text.charCodeAt(j - 1) === 46) j--;
  return j > start ? { start, end: j, quoted: false } : null;
}

function isLineStart(text: string, keyStart: number): boolean {
  let i = keyStart - 1;
  while (i >= 0 && isSpace(text.charCodeAt(i))) i--;
  if (i >= 0 && (text.charCodeAt(i) === 34 || text.charCodeAt(i) === 39)) i--;
  while (i >= 0 && isSpace(text.charCodeAt(i))) i--;
  if (i < 0) return true;
  const c = text.charCodeAt(i);
  // newline, '{', ',', ';', '?', '&' start a key too (JSON, connection strings, query strings)
  return c === 10 || c === 13 || c === 123 || c === 44 || c === 59 || c === 63 || c === 38;
}

export const assignmentDetector: Detector = {
  name: 'assignments',
  classes: ['PASSWORD', 'API_KEY'],
  applies: (text, view?: TextView) => (view ? view.hasEquals || view.hasColon : text.includes('=') || text.includes(':')),
  scan(text: string, out: Finding[], view: TextView = new TextView(text)): void {
    // Every '=' and ':' in text order (the view's shared list), skipping those before `from`.
    let from = 0;
    const separators = view.separators();
    for (let s = 0; s < separators.length; s++) {
      let i = separators[s]!;
      if (i < from) continue;
      from = i + 1;
      const c = text.charCodeAt(i);
      let valueFrom = i + 1;
      const next = text.charCodeAt(i + 1);
      if (c === 58 && next === 58) { from = i + 2; continue; } // '::'
      if (c === 58 && next === 47) continue; // '://'
      if (c === 61 && (next === 61 || next === 126)) { from = i + 2; continue; } // '==', '=~'
      if (c === 61 && next === 62) valueFrom = i + 2; // '=>'
      if (c === 58 && next === 61) { valueFrom = i + 2; i++; from = i + 1; } // ':='
      const prev = text.charCodeAt(i - 1);
      if (c === 61 && (prev === 33 || prev === 60 || prev === 62 || prev === 61)) continue; // != <= >=

      // Key: left of the separator, past spaces and one closing quote.
      let k = i - 1;
      while (k >= 0 && isSpace(text.charCodeAt(k))) k--;
      const closing = text.charCodeAt(k);
      if (closing === 34 || closing === 39) k--;
      const keyEnd = k + 1;
      let letters = 0; // the key's letters, case folded, one bit each
      for (; k >= 0 && keyEnd - k <= 64; k--) {
        const kc = text.charCodeAt(k);
        if (!isKeyCode(kc)) break;
        const l = (kc | 32) - 97;
        if (l >= 0 && l < 26) letters |= 1 << l;
      }
      const keyStart = k + 1;
      // Keys start with a letter or '_' and are at least 3 long: "12:30:45" and "a=b" are not keys.
      if (keyEnd - keyStart < 3) continue;
      const first = text.charCodeAt(keyStart);
      if (!((first >= 65 && first <= 90) || (first >= 97 && first <= 122) || first === 95)) continue;
      // Cheap gates first: most '=' and ':' in code and prose are neither secret-named nor random.
      // Keys are ASCII (isKeyCode), so the /i key patterns read them without a lower-cased copy.
      let key = mayBeSecretNamed(letters) ? text.slice(keyStart, keyEnd) : '';
      const secretNamed = key !== '' && SECRET_NAMED_KEY.test(key);
      if (!secretNamed && !mayHoldRandomValue(text, valueFrom)) continue;
      if (key === '') key = text.slice(keyStart, keyEnd);
      const value = readValue(text, valueFrom);
      if (!value) continue;
      const length = value.end - value.start;
      if (length < 4) continue;
      if (!secretNamed && length < 20) continue;
      const v = text.slice(value.start, value.end);
      if (!secretNamed && !looksRandom(v, 20)) continue;
      if (PLACEHOLDER.test(v) || CODE_REFERENCE.test(v) || v.includes('://')) continue;

      const nonSecretSegment = hasNonSecretSegment(text, keyStart, keyEnd);
      const isPassword = PASSWORD_KEY.test(key) && !nonSecretSegment;
      const isSecret = !isPassword && SECRET_KEY.test(key) && !nonSecretSegment && !NON_SECRET_KEYS.test(key);

      if (isPassword || isSecret) {
        if (!value.quoted) {
          // Unquoted: code like `password = getPassword()` or `password: string` is no value.
          if (/[()[\]{}]/.test(v)) continue;
          const plainWord = /^[A-Za-z_]+$/.test(v);
          if (plainWord && !(isLineStart(text, keyStart) && (c === 61 || c === 58))) continue;
          if (/^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+$/.test(v) && !/\d/.test(v)) continue;
        }
        if (isPassword) {
          if (v.length < 6 && !value.quoted) continue;
          out.push({ class: 'PASSWORD', start: value.start, end: value.end, score: 0.9, detector: 'assignment:password' });
        } else {
          // Keys and tokens carry digits; an unquoted word ("AuthenticateOptions") is a type or a reference.
          if (v.length < 8 || /^[a-z]+$/.test(v) || /\s/.test(v) || (!value.quoted && !/\d/.test(v))) continue;
          if (/^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(v)) continue;
          out.push({ class: 'API_KEY', start: value.start, end: value.end, score: 0.85, detector: 'assignment:secret' });
        }
        continue;
      }
      if (!NON_SECRET_KEYS.test(key) && !nonSecretSegment && looksRandom(v, 20)) { // entropy checked above when not secret-named
        out.push({ class: 'API_KEY', start: value.start, end: value.end, score: 0.7, detector: 'entropy:secret' });
      }
    }
  },
};
