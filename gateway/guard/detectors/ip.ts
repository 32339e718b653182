/** IP_ADDRESS: IPv4 with octet validation and IPv6 (full and compressed); loopback and masks excluded. */
import type { Finding } from '../types.js';
import { TextView } from './text-view.js';
import { textBefore, type Detector } from './detector.js';

const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
/** Sticky: tried at runs of one to three digits followed by a dot. */
const IPV4 = new RegExp(`(?<![\\w.])${OCTET}(?:\\.${OCTET}){3}(?![\\w]|\\.\\d)`, 'y');
const H = '[0-9A-Fa-f]{1,4}';
const IPV6 = new RegExp(
  `(?<![\\w:.])(?:(?:${H}:){7}${H}|(?:${H}:){1,6}:${H}|(?:${H}:){1,5}(?::${H}){1,2}|(?:${H}:){1,4}(?::${H}){1,3}`
  + `|(?:${H}:){1,3}(?::${H}){1,4}|(?:${H}:){1,2}(?::${H}){1,5}|${H}:(?::${H}){1,6}|::(?:${H}:){1,5}${H})(?![\\w:])`,
  'y',
);
const VERSION_CONTEXT = /(?:\bv|version|ver\.?|release|build|node|chrome|firefox|safari|os)\s*[=:]?\s*$/;

/** Run k/2 holds 1–3 digits and is followed by '.' and then at once by the next run (runs[k + 2]). */
function isOctetRunThenDot(text: string, runs: readonly number[], k: number): boolean {
  const e = runs[k + 1];
  return e !== undefined && e - runs[k]! <= 3 && text.charCodeAt(e) === 46 && runs[k + 2] === e + 1;
}

function isHexCode(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function excludedV4(ip: string): boolean {
  return ip.startsWith('127.') || ip === '0.0.0.0' || ip.startsWith('255.') || ip.endsWith('.255.255') || ip === '1.1.1.1';
}

export const ipDetector: Detector = {
  name: 'ip',
  classes: ['IP_ADDRESS'],
  applies: (text, view?: TextView) => (view ? (view.hasDot || view.hasColon) && view.hasDigit : text.includes('.') || text.includes(':')),
  scan(text: string, out: Finding[], view: TextView = new TextView(text)): void {
    if (text.includes('.')) {
      const runs = view.digitRuns();
      let last = 0;
      for (let k = 0; k < runs.length; k += 2) {
        const s = runs[k]!;
        // Each octet is a whole run of 1–3 digits (a '.' or no word character may follow it), so a
        // match is four such runs, each starting right after the '.' that ends the one before.
        if (s < last || !isOctetRunThenDot(text, runs, k) || !isOctetRunThenDot(text, runs, k + 2) || !isOctetRunThenDot(text, runs, k + 4)
          || runs[k + 7]! - runs[k + 6]! > 3) continue;
        IPV4.lastIndex = s;
        const m = IPV4.exec(text);
        if (!m) continue;
        last = s + m[0].length;
        if (excludedV4(m[0]) || VERSION_CONTEXT.test(textBefore(text, m.index, 12))) continue;
        out.push({ class: 'IP_ADDRESS', start: m.index, end: m.index + m[0].length, score: 0.95, detector: 'regex:ipv4' });
      }
    }
    // IPv6. The text is not searched first for three colons close together or '::' (which every
    // match holds): that search cost more than the colon walk below, which rules out most colons
    // from the character after them.
    // Every match holds a ':' within its first five characters (at most four hex digits, then a
    // colon), so the pattern is tried, sticky, only at the five positions up to each colon, in
    // text order and past the last match: what the global search would find, without trying it at
    // every hex letter of the text.
    //
    // A match's first colon is followed by a hex digit or a second colon, and before it stand only
    // hex digits back to the match's start: other colons, and positions with any other character
    // between them and the colon, are skipped (an earlier colon was tried at its own turn).
    // The colons come from the view's shared list of '=' and ':', each past the last match.
    let last = 0;
    const separators = view.separators();
    for (let s = 0; s < separators.length; s++) {
      const colon = separators[s]!;
      if (colon < last || text.charCodeAt(colon) !== 58) continue;
      const after = text.charCodeAt(colon + 1);
      if (after !== 58 && !isHexCode(after)) continue;
      // In every form a match's first colon is followed by a second one, at once ("::") or after
      // one to four hex digits ("12:30 " and "a:b " are not tried).
      if (after !== 58) {
        let j = colon + 2;
        while (j < colon + 5 && isHexCode(text.charCodeAt(j))) j++;
        if (text.charCodeAt(j) !== 58) continue;
      }
      let from = colon;
      const lowest = Math.max(last, colon - 4);
      while (from > lowest && isHexCode(text.charCodeAt(from - 1))) from--;
      let m: RegExpExecArray | null = null;
      for (let at = from; at <= colon && m === null; at++) {
        IPV6.lastIndex = at;
        m = IPV6.exec(text);
      }
      if (m === null) continue;
      last = m.index + m[0].length;
      const v = m[0];
      const groups = v.split(':').filter(Boolean).length;
      // Needs a few groups and a digit, so "de:ad" or "std::cafe" in code is not an address.
      if (groups < 3 || !/\d/.test(v) || v === '::1') continue;
      out.push({ class: 'IP_ADDRESS', start: m.index, end: m.index + v.length, score: 0.9, detector: 'regex:ipv6' });
    }
  },
};
