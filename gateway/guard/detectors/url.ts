/**
 * URL and credentials inside URLs. `scheme://user:pass@host` yields a PASSWORD finding on `pass`
 * (connection strings of databases and brokers included). Plain web URLs yield URL, as the public
 * evaluation set labels personal web addresses; loopback, private-use and documentation hosts never.
 */
import type { Finding } from '../types.js';
import { isReservedHost, isWordCode, type Detector } from './detector.js';

const URL_AT = /([A-Za-z][A-Za-z0-9+.\-]{1,20}):\/\/(?:([^\s/?#@'"<>`]*)@)?(\[[0-9A-Fa-f:.]+\]|[^\s/?#:'"<>`,;)\]}]+)(:\d{1,5})?([^\s'"<>`]*)/y;
const WEB_SCHEMES = new Set(['http', 'https', 'ftp', 'ftps', 'ws', 'wss']);
const PLACEHOLDER_PASSWORD = /^(?:\*+|x+|\$\{.*\}|\$[A-Z_]+|<.*>|\{\{.*\}\}|%s|\[.*\]|password|pass|pwd|secret|changeme|\.\.\.)$/i;
const PRIVATE_HOST = /^(?:10\.|192\.168\.|172\.(?:1[6-9]|2\d|3[01])\.|169\.254\.)|\.(?:local|internal|lan|home|corp)$/i;

export const urlDetector: Detector = {
  name: 'url',
  classes: ['URL', 'PASSWORD'],
  applies: (text) => text.includes('://'),
  scan(text: string, out: Finding[]): void {
    let sep = text.indexOf('://');
    while (sep !== -1) {
      let start = sep;
      while (start > 0 && (isWordCode(text.charCodeAt(start - 1)) || text.charCodeAt(start - 1) === 43
        || text.charCodeAt(start - 1) === 45 || text.charCodeAt(start - 1) === 46)) start--;
      let next = sep + 3;
      if (start < sep) {
        URL_AT.lastIndex = start;
        const m = URL_AT.exec(text);
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
          if (WEB_SCHEMES.has(scheme) && !isReservedHost(host) && !PRIVATE_HOST.test(host) && host.includes('.')
            && end > hostStart) {
            out.push({ class: 'URL', start: userinfo === undefined ? start : hostStart, end, score: 0.6, detector: 'regex:url' });
          }
        }
      }
      sep = text.indexOf('://', next);
    }
  },
};
