/** CRYPTO_WALLET: Bitcoin (Base58Check and bech32, both checksum-verified) and Ethereum addresses. */
import { createHash } from 'node:crypto';
import type { Finding } from '../types.js';
import { TextView } from './text-view.js';
import { type Detector } from './detector.js';

/** Sticky: tried at runs of digits that start with 1 or 3. */
const BASE58 = /(?<![A-Za-z0-9])[13][1-9A-HJ-NP-Za-km-z]{25,34}(?![A-Za-z0-9])/y;
/** Sticky: tried two letters before a run of digits that starts with 1. */
const BECH32 = /(?<![A-Za-z0-9])(?:bc1|tb1)[02-9ac-hj-np-z]{11,71}(?![A-Za-z0-9])/y;
/** Sticky: tried at a lone 0 followed by x. */
const ETH = /(?<![A-Za-z0-9])0x[0-9a-fA-F]{40}(?![0-9A-Za-z])/y;
const ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** [1-9A-HJ-NP-Za-km-z]: BASE58's alphabet (no 0, O, I or l). */
function isBase58Code(c: number): boolean {
  return (c >= 49 && c <= 57) || (c >= 65 && c <= 90 && c !== 73 && c !== 79) || (c >= 97 && c <= 122 && c !== 108);
}

function base58CheckValid(s: string): boolean {
  let n = 0n;
  for (const ch of s) {
    const v = ALPHABET.indexOf(ch);
    if (v < 0) return false;
    n = n * 58n + BigInt(v);
  }
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let leading = 0;
  while (leading < s.length && s[leading] === '1') leading++;
  const bytes = Buffer.concat([Buffer.alloc(leading), Buffer.from(hex, 'hex')]);
  if (bytes.length !== 25) return false;
  const payload = bytes.subarray(0, 21);
  const check = createHash('sha256').update(createHash('sha256').update(payload).digest()).digest();
  return check.subarray(0, 4).equals(bytes.subarray(21));
}

const BECH32_CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
function bech32Valid(s: string): boolean {
  const sep = s.lastIndexOf('1');
  const hrp = s.slice(0, sep);
  const data: number[] = [];
  for (const ch of s.slice(sep + 1)) data.push(BECH32_CHARSET.indexOf(ch));
  const values = [...[...hrp].map((c) => c.charCodeAt(0) >> 5), 0, ...[...hrp].map((c) => c.charCodeAt(0) & 31), ...data];
  const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >> i) & 1) chk ^= GEN[i]!;
  }
  return chk === 1 || chk === 0x2bc830a3; // bech32 / bech32m
}

export const cryptoWalletDetector: Detector = {
  name: 'crypto-wallet',
  classes: ['CRYPTO_WALLET'],
  applies: (text, view?: TextView) => (view ? view.hasDigit : /[13]|bc1|tb1|0x/.test(text)),
  scan(text: string, out: Finding[], view: TextView = new TextView(text)): void {
    // One walk over the runs for the three rules (each is anchored on a run's first character); each
    // keeps its own "next match starts after the last one" cursor, as its own walk did. Findings
    // keep the order of three walks: Base58 first, then bech32, then Ethereum (the last two are
    // rare and held back until the walk ends).
    const runs = view.digitRuns();
    let last = 0;
    let bechEnd = 0;
    let later: Finding[] | null = null;
    let ethereum: Finding[] | null = null;
    for (let k = 0; k < runs.length; k += 2) {
      const s = runs[k]!;
      const first = text.charCodeAt(s);
      if (first === 49 || first === 51) {
        // A match is at least 26 Base58 characters from the run's start: a shorter run must be
        // followed by one ("1;", "3)" and the like are not tried).
        const e = runs[k + 1]!;
        if (s >= last && (e - s >= 26 || isBase58Code(text.charCodeAt(e)))) {
          BASE58.lastIndex = s;
          const m = BASE58.exec(text);
          if (m) {
            last = s + m[0].length;
            if (base58CheckValid(m[0])) out.push({ class: 'CRYPTO_WALLET', start: m.index, end: m.index + m[0].length, score: 0.95, detector: 'base58check:bitcoin' });
          }
        }
        // bech32: "bc1…" or "tb1…", tried two letters before a run that starts with 1.
        const b = s - 2;
        if (first === 49 && b >= 0 && b >= bechEnd && (text.startsWith('bc', b) || text.startsWith('tb', b))) {
          BECH32.lastIndex = b;
          const m = BECH32.exec(text);
          if (m) {
            bechEnd = b + m[0].length;
            if (bech32Valid(m[0])) (later ??= []).push({ class: 'CRYPTO_WALLET', start: m.index, end: m.index + m[0].length, score: 0.95, detector: 'bech32:bitcoin' });
          }
        }
      } else if (first === 48 && runs[k + 1]! - s === 1 && text.charCodeAt(s + 1) === 120) {
        // Ethereum: a lone 0 followed by x.
        ETH.lastIndex = s;
        const m = ETH.exec(text);
        if (m) (ethereum ??= []).push({ class: 'CRYPTO_WALLET', start: m.index, end: m.index + m[0].length, score: 0.8, detector: 'regex:ethereum' });
      }
    }
    if (later) for (const f of later) out.push(f);
    if (ethereum) for (const f of ethereum) out.push(f);
  },
};
