/**
 * URL and credentials inside URLs. `scheme://user:pass@host` yields a PASSWORD finding on `pass`
 * (connection strings of databases and brokers included). Plain web URLs yield URL, as the public
 * evaluation set labels personal web addresses; loopback, private-use and documentation hosts never.
 */
import type { Finding } from '../types.js';
import { isReservedHost, isWordCode, type Detector } from './detector.js';
import type { TextView } from './text-view.js';

const URL_AT = /([A-Za-z][A-Za-z0-9+.\-]{1,20}):\/\/(?:([^\s/?#@'"<>`]*)@)?(\[[0-9A-Fa-f:.]+\]|[^\s/?#:'"<>`,;)\]}]+)(:\d{1,5})?([^\s'"<>`]*)/y;
/**
 * The same with a userinfo that holds characters a URL should escape but people do not (`#`, `?`):
 * `redis://:s3cr3t#1@cache:6379`. Only taken when the userinfo has a ':' (a password); the user part
 * has none and both parts are bounded, so a long run of ':' without '@' cannot backtrack.
 */
const URL_LOOSE_USERINFO = /([A-Za-z][A-Za-z0-9+.\-]{1,20}):\/\/([^\s/@:'"<>`]{0,256}:[^\s/@'"<>`]{0,256})@(\[[0-9A-Fa-f:.]+\]|[^\s/?#:'"<>`,;)\]}]+)(:\d{1,5})?([^\s'"<>`]*)/y;
/** Query parameters whose value is a credential; `password`-like ones are PASSWORD, the rest API_KEY. */
const SECRET_PARAMS = new Set(['token', 'access_token', 'refresh_token', 'id_token', 'auth', 'auth_token', 'api_key', 'apikey',
  'api-key', 'key', 'sig', 'signature', 'secret', 'client_secret', 'password', 'passwd', 'pwd', 'pass', 'code',
  'x-amz-signature', 'x-goog-signature', 'session', 'sessionid', 'session_id', 'jwt', 'private_token']);
const PASSWORD_PARAMS = new Set(['password', 'passwd', 'pwd', 'pass']);
const WEB_SCHEMES = new Set(['http', 'https', 'ftp', 'ftps', 'ws', 'wss']);
const PLACEHOLDER_PASSWORD = /^(?:\*+|x+|\$\{.*\}|\$[A-Z_]+|<.*>|\{\{.*\}\}|%s|\[.*\]|password|pass|pwd|secret|changeme|\.\.\.)$/i;
const PRIVATE_HOST = /^(?:10\.|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\.|169\.254\.)|\.(?:local|internal|lan|home|corp)$/i;

/** Pushes the values of credential parameters in text[from, end); true when there was one. */
function scanQuery(text: string, from: number, end: number, out: Finding[]): boolean {
  let found = false;
  let i = from;
  while (i < end) {
    let amp = text.indexOf('&', i);
    if (amp === -1 || amp > end) amp = end;
    const hash = text.indexOf('#', i);
    const stop = hash !== -1 && hash < amp ? hash : amp;
    const eq = text.indexOf('=', i);
    if (eq !== -1 && eq < stop) {
      const name = text.slice(i, eq).toLowerCase();
      const v = text.slice(eq + 1, stop);
      if (SECRET_PARAMS.has(name) && v.length >= 6 && !PLACEHOLDER_PASSWORD.test(v) && !/^\{\{|^\$\{|^<|^%7B/i.test(v)
        && (/\d/.test(v) || /[a-z][A-Z]|[A-Z][a-z].*[A-Z]/.test(v) || v.length >= 20)) {
        const password = PASSWORD_PARAMS.has(name);
        out.push({
          class: password ? 'PASSWORD' : 'API_KEY', start: eq + 1, end: stop, score: 0.9,
          detector: password ? 'url:query_password' : 'url:query_secret',
        });
        found = true;
      }
    }
    if (stop === hash && hash !== -1) break;
    i = amp + 1;
  }
  return found;
}

function hasSchemeSeparator(text: string, view: TextView): boolean {
  const separators = view.separators();
  for (let s = 0; s < separators.length; s++) {
    const at = separators[s]!;
    if (text.charCodeAt(at + 1) === 47 && text.charCodeAt(at + 2) === 47 && text.charCodeAt(at) === 58) return true;
  }
  return false;
}

export const urlDetector: Detector = {
  name: 'url',
  classes: ['URL', 'PASSWORD'],
  // With the view: a "://" is a ':' of its shared separator list followed by "//" (no search of its own).
  applies: (text, view?: TextView) => (view ? hasSchemeSeparator(text, view) : text.includes('://')),
  scan(text: string, out: Finding[]): void {
    let sep = text.indexOf('://');
    while (sep !== -1) {
      let start = sep;
      while (start > 0 && (isWordCode(text.charCodeAt(start - 1)) || text.charCodeAt(start - 1) === 43
        || text.charCodeAt(start - 1) === 45 || text.charCodeAt(start - 1) === 46)) start--;
      let next = sep + 3;
      if (start < sep) {
        URL_LOOSE_USERINFO.lastIndex = start;
        let m = URL_LOOSE_USERINFO.exec(text);
        if (!m) {
          URL_AT.lastIndex = start;
          m = URL_AT.exec(text);
        }
        if (m) {
          const scheme = m[1]!.toLowerCase();
          const userinfo = m[2];
          const host = m[3]!;
          let end = start + m[0].length;
          // Trailing sentence punctuation is not part of a URL.
          while (end > start && /[.,;:!?)\]}'"*]/.test(text[end - 1]!)) end--;
          next = end;
          const hostStart = start + scheme.length + 3 + (userinfo === undefined ? 0 : userinfo.length + 1);
          if (userinfo !== undefined) {
            const colon = userinfo.indexOf(':');
            const password = colon === -1 ? '' : userinfo.slice(colon + 1);
            if (password.length > 0 && !PLACEHOLDER_PASSWORD.test(password)) {
              const ps = start + scheme.length + 3 + colon + 1;
              out.push({ class: 'PASSWORD', start: ps, end: ps + password.length, score: 0.97, detector: 'url:credentials' });
            }
          }
          // Credentials in the query string; the URL finding then stops before the query.
          const query = text.indexOf('?', hostStart);
          const urlEnd = query !== -1 && query < end && scanQuery(text, query + 1, end, out) ? query : end;
          if (WEB_SCHEMES.has(scheme) && !isReservedHost(host) && !PRIVATE_HOST.test(host) && host.includes('.')
            && urlEnd > hostStart) {
            out.push({ class: 'URL', start: userinfo === undefined ? start : hostStart, end: urlEnd, score: 0.6, detector: 'regex:url' });
          }
        }
      }
      sep = text.indexOf('://', next);
    }
  },
};
