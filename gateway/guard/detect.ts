/**
 * The Privacy Guard's detection entry point: runs every detector family whose cheap prefilter
 * accepts the text, adds policy deny-values and custom classes, drops allow-listed values, and
 * resolves overlaps so the result is sorted by start and non-overlapping.
 */
import type { DetectFn, DetectOptions, Finding } from './types.js';
import type { Detector } from './detectors/detector.js';
import { addressDetector } from './detectors/address.js';
import { assignmentDetector } from './detectors/assignments.js';
import { cardDetector } from './detectors/card.js';
import { cryptoWalletDetector } from './detectors/crypto-wallet.js';
import { dobDetector } from './detectors/dob.js';
import { emailDetector } from './detectors/email.js';
import { ibanDetector } from './detectors/iban.js';
import { ipDetector } from './detectors/ip.js';
import { jwtDetector } from './detectors/jwt.js';
import { personDetector } from './detectors/person.js';
import { phoneDetector } from './detectors/phone.js';
import { privateKeyDetector } from './detectors/private-key.js';
import { proseSecretDetector } from './detectors/prose-secrets.js';
import { providerKeyDetector } from './detectors/provider-keys.js';
import { ssnDetector } from './detectors/ssn.js';
import { urlDetector } from './detectors/url.js';
import { TextView } from './detectors/text-view.js';

export type { Detector } from './detectors/detector.js';

/** Every built-in detector family, in no particular order (overlaps are settled by priority). */
export const DETECTORS: readonly Detector[] = [
  privateKeyDetector, jwtDetector, providerKeyDetector, urlDetector, assignmentDetector, proseSecretDetector, emailDetector,
  cardDetector, ibanDetector, ssnDetector, ipDetector, cryptoWalletDetector, phoneDetector, dobDetector,
  addressDetector, personDetector,
];

/**
 * When two candidates overlap, the higher priority wins: validated secrets and checksummed numbers
 * beat shape-only matches, which beat lexicon and context guesses.
 */
const CLASS_PRIORITY: Record<string, number> = {
  PRIVATE_KEY: 100, JWT: 95, API_KEY: 90, PASSWORD: 88, CREDIT_CARD: 85, IBAN: 85, US_SSN: 84,
  EMAIL: 80, CRYPTO_WALLET: 78, IP_ADDRESS: 75, DATE_OF_BIRTH: 60, ADDRESS: 56, PHONE: 55, URL: 50, PERSON: 30,
};
const POLICY_PRIORITY = 200;
const CUSTOM_PRIORITY = 70;
/** Generic entropy guesses rank below every validated class. */
const GENERIC_SECRET_PRIORITY = 58;

function priorityOf(f: Finding): number {
  if (f.detector === 'policy:deny') return POLICY_PRIORITY;
  if (f.detector === 'entropy:secret') return GENERIC_SECRET_PRIORITY;
  if (f.detector.startsWith('custom:')) return CUSTOM_PRIORITY;
  return CLASS_PRIORITY[f.class] ?? CUSTOM_PRIORITY;
}

const compiledCustom = new WeakMap<object, ReadonlyArray<{ name: string; re: RegExp }>>();

/** Compiles policy regexes once per options array (policies are long-lived objects). */
function customPatterns(list: NonNullable<DetectOptions['customClasses']>): ReadonlyArray<{ name: string; re: RegExp }> {
  let compiled = compiledCustom.get(list);
  if (!compiled) {
    compiled = list.map((c) => {
      const flags = (c.flags ?? '').replace(/[gy]/g, '') + 'g';
      try {
        return { name: c.name, re: new RegExp(c.pattern, flags) };
      } catch (err) {
        throw new Error(`custom class ${c.name}: invalid pattern: ${(err as Error).message}`);
      }
    });
    compiledCustom.set(list, compiled);
  }
  return compiled;
}

function addCustom(text: string, options: DetectOptions, out: Finding[]): void {
  if (options.customClasses && options.customClasses.length > 0) {
    for (const { name, re } of customPatterns(options.customClasses)) {
      if (options.classes && !options.classes.has(name)) continue;
      re.lastIndex = 0;
      for (let m = re.exec(text); m !== null; m = re.exec(text)) {
        if (m[0].length === 0) {
          re.lastIndex++;
          continue;
        }
        out.push({ class: name, start: m.index, end: m.index + m[0].length, score: 0.9, detector: `custom:${name}` });
      }
    }
  }
  if (options.deny) {
    for (const { value, class: cls } of options.deny) {
      if (value.length === 0) continue;
      for (let at = text.indexOf(value); at !== -1; at = text.indexOf(value, at + value.length)) {
        out.push({ class: cls, start: at, end: at + value.length, score: 1, detector: 'policy:deny' });
      }
    }
  }
}

/** Greedy by priority, then score, then length; the winners come back sorted by start. */
export function resolveOverlaps(candidates: Finding[]): Finding[] {
  if (candidates.length <= 1) return candidates;
  const ranked = candidates
    .map((f) => ({ f, p: priorityOf(f) }))
    .sort((a, b) => b.p - a.p || b.f.score - a.f.score || (b.f.end - b.f.start) - (a.f.end - a.f.start) || a.f.start - b.f.start);
  const kept: Finding[] = [];
  for (const { f } of ranked) {
    // kept is kept sorted by start; find the insertion point and test both neighbours.
    let lo = 0;
    let hi = kept.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (kept[mid]!.start < f.start) lo = mid + 1;
      else hi = mid;
    }
    const prev = kept[lo - 1];
    const next = kept[lo];
    if (prev && prev.end > f.start) continue;
    if (next && next.start < f.end) continue;
    kept.splice(lo, 0, f);
  }
  return kept;
}

export const detect: DetectFn = (text: string, options: DetectOptions = {}): Finding[] => {
  if (text.length === 0) return [];
  const wanted = options.classes;
  const candidates: Finding[] = [];
  // One pass over the text feeds every detector's prefilter and shares the lower-cased copy.
  const view = new TextView(text);
  for (const d of DETECTORS) {
    if (wanted && !d.classes.some((c) => wanted.has(c))) continue;
    if (!d.applies(text, view)) continue;
    d.scan(text, candidates, view);
  }
  addCustom(text, options, candidates);
  let filtered = wanted ? candidates.filter((f) => wanted.has(f.class) || f.detector === 'policy:deny') : candidates;
  if (options.allow && options.allow.length > 0) {
    const allowed = new Set(options.allow.map((v) => v.trim().toLowerCase()));
    filtered = filtered.filter((f) => f.detector === 'policy:deny' || !allowed.has(text.slice(f.start, f.end).trim().toLowerCase()));
  }
  return resolveOverlaps(filtered);
};
