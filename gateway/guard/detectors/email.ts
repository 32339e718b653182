/** EMAIL: anchored on '@', expanded by character class, checked for a real-looking domain. */
import type { Finding } from '../types.js';
import type { TextView } from './text-view.js';
import { isReservedHost, type Detector } from './detector.js';

function isLocalCode(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
    || c === 46 || c === 95 || c === 37 || c === 43 || c === 45;
}
function isDomainCode(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 46 || c === 45;
}

/** "icon@2x.png", "pkg@1.2.3" and friends end in a file extension, not a TLD. */
const FILE_EXTENSIONS = new Set([
  'png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'bmp', 'js', 'mjs', 'cjs', 'ts', 'tsx', 'jsx', 'css',
  'scss', 'html', 'json', 'yaml', 'yml', 'md', 'txt', 'map', 'lock', 'py', 'rb', 'go', 'rs', 'java', 'sh',
]);

const TLD = /^(?:[a-z]{2,24}|xn--[a-z0-9-]{2,59})$/i;

function acceptableDomain(domain: string): boolean {
  const labels = domain.split('.');
  if (labels.length < 2) return false;
  for (const l of labels) if (l.length === 0 || l.length > 63 || l.startsWith('-') || l.endsWith('-')) return false;
  const tld = labels[labels.length - 1]!;
  if (!TLD.test(tld) || FILE_EXTENSIONS.has(tld.toLowerCase())) return false;
  return !isReservedHost(domain);
}

export const emailDetector: Detector = {
  name: 'email',
  classes: ['EMAIL'],
  applies: (text, view?: TextView) => (view ? view.hasAt : text.includes('@')),
  scan(text: string, out: Finding[]): void {
    let at = text.indexOf('@');
    while (at !== -1) {
      let start = at;
      while (start > 0 && isLocalCode(text.charCodeAt(start - 1))) start--;
      while (start < at && text.charCodeAt(start) === 46) start++;
      let end = at + 1;
      while (end < text.length && isDomainCode(text.charCodeAt(end))) end++;
      while (end > at + 1 && (text.charCodeAt(end - 1) === 46 || text.charCodeAt(end - 1) === 45)) end--;
      // "git@github.com:org/repo" is an ssh remote, not a mailbox.
      const sshRemote = at - start === 3 && text.startsWith('git', start);
      if (start < at && end > at + 1 && !sshRemote && !isUrlUserinfo(text, start)
        && acceptableDomain(text.slice(at + 1, end))) {
        out.push({ class: 'EMAIL', start, end, score: 0.95, detector: 'regex:email' });
      }
      at = text.indexOf('@', Math.max(end, at + 1));
    }
  },
};

/** `scheme://user:pass@host` is a URL's userinfo, handled by the URL detector. */
function isUrlUserinfo(text: string, start: number): boolean {
  let i = start - 1;
  const stop = Math.max(0, start - 128);
  while (i >= stop) {
    const c = text.charCodeAt(i);
    if (c === 32 || c === 10 || c === 9 || c === 13 || c === 34 || c === 39 || c === 60 || c === 64) return false;
    if (c === 47 && i > 0 && text.charCodeAt(i - 1) === 47) return true;
    i--;
  }
  return false;
}
