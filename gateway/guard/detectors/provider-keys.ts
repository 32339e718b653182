/**
 * API_KEY from well-known providers. Each rule is keyed on a literal prefix: the text is searched
 * with indexOf (fast, no regex over the whole text) and the rule's sticky regex runs only at hits.
 */
import type { Finding } from '../types.js';
import { isWordCode, type Detector } from './detector.js';
import { keywordFamily, TextView } from './text-view.js';

interface KeyRule {
  provider: string;
  prefix: string;
  /** Sticky; matched at the prefix position, includes the prefix. */
  pattern: RegExp;
  /** Index of the capture group holding the secret, when only part of the match is secret. */
  group?: number;
}

const rule = (provider: string, prefix: string, body: string, group?: number): KeyRule =>
  group === undefined ? { provider, prefix, pattern: new RegExp(body, 'y') } : { provider, prefix, pattern: new RegExp(body, 'y'), group };

export const KEY_RULES: readonly KeyRule[] = [
  rule('anthropic', 'sk-ant-', 'sk-ant-(?:api|admin)\\d{2}-[A-Za-z0-9_\\-]{40,}'),
  rule('openrouter', 'sk-or-', 'sk-or-v\\d-[A-Za-z0-9]{32,}'),
  rule('openai', 'sk-', 'sk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\\-]{20,}'),
  rule('aws-access-key-id', 'AKIA', 'AKIA[A-Z0-9]{16}(?![A-Z0-9])'),
  rule('aws-access-key-id', 'ASIA', 'ASIA[A-Z0-9]{16}(?![A-Z0-9])'),
  rule('aws-access-key-id', 'ABIA', 'ABIA[A-Z0-9]{16}(?![A-Z0-9])'),
  rule('aws-access-key-id', 'ACCA', 'ACCA[A-Z0-9]{16}(?![A-Z0-9])'),
  rule('google-api-key', 'AIza', 'AIza[0-9A-Za-z_\\-]{35}'),
  rule('google-oauth-token', 'ya29.', 'ya29\\.[0-9A-Za-z_\\-]{20,}'),
  rule('gcp-private-key-id', 'private_key_id', 'private_key_id"?\\s*[:=]\\s*"?([a-f0-9]{40})', 1),
  rule('github', 'ghp_', 'ghp_[A-Za-z0-9]{36,255}'),
  rule('github', 'gho_', 'gho_[A-Za-z0-9]{36,255}'),
  rule('github', 'ghu_', 'ghu_[A-Za-z0-9]{36,255}'),
  rule('github', 'ghs_', 'ghs_[A-Za-z0-9]{36,255}'),
  rule('github', 'ghr_', 'ghr_[A-Za-z0-9]{36,255}'),
  rule('github', 'github_pat_', 'github_pat_[A-Za-z0-9_]{60,255}'),
  rule('gitlab', 'glpat-', 'glpat-[A-Za-z0-9_\\-]{20,}'),
  rule('gitlab', 'gldt-', 'gldt-[A-Za-z0-9_\\-]{20,}'),
  rule('gitlab', 'glrt-', 'glrt-[A-Za-z0-9_\\-]{20,}'),
  rule('gitlab', 'glptt-', 'glptt-[A-Za-z0-9_\\-]{20,}'),
  rule('slack', 'xox', 'xox[abposr]-[A-Za-z0-9\\-]{10,}'),
  rule('slack-webhook', 'hooks.slack.com/', 'hooks\\.slack\\.com/(?:services|workflows)/[A-Za-z0-9/_\\-]{20,}'),
  rule('discord-webhook', 'discord.com/api/webhooks/', 'discord\\.com/api/webhooks/\\d+/[A-Za-z0-9_\\-]{30,}'),
  rule('stripe', 'sk_live_', 'sk_live_[A-Za-z0-9]{10,99}'),
  rule('stripe', 'sk_test_', 'sk_test_[A-Za-z0-9]{10,99}'),
  rule('stripe', 'rk_live_', 'rk_live_[A-Za-z0-9]{10,99}'),
  rule('stripe', 'rk_test_', 'rk_test_[A-Za-z0-9]{10,99}'),
  rule('stripe-webhook', 'whsec_', 'whsec_[A-Za-z0-9]{24,}'),
  rule('twilio', 'SK', 'SK[0-9a-f]{32}(?![0-9A-Za-z])'),
  rule('twilio-account', 'AC', 'AC[0-9a-f]{32}(?![0-9A-Za-z])'),
  rule('sendgrid', 'SG.', 'SG\\.[A-Za-z0-9_\\-]{22}\\.[A-Za-z0-9_\\-]{43}'),
  rule('npm', 'npm_', 'npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])'),
  rule('pypi', 'pypi-', 'pypi-AgE[A-Za-z0-9_\\-]{50,}'),
  rule('huggingface', 'hf_', 'hf_[A-Za-z]{34}(?![A-Za-z0-9])'),
  rule('groq', 'gsk_', 'gsk_[A-Za-z0-9]{48,}'),
  rule('xai', 'xai-', 'xai-[A-Za-z0-9]{60,}'),
  rule('replicate', 'r8_', 'r8_[A-Za-z0-9]{37}(?![A-Za-z0-9])'),
  rule('digitalocean', 'dop_v1_', 'do[opr]_v1_[a-f0-9]{64}'),
  rule('shopify', 'shpat_', 'shpat_[a-fA-F0-9]{32}'),
  rule('mailgun', 'key-', 'key-[0-9a-f]{32}(?![0-9A-Za-z])'),
  rule('databricks', 'dapi', 'dapi[a-f0-9]{32}(?![0-9A-Za-z])'),
  rule('azure-storage', 'AccountKey=', 'AccountKey=([A-Za-z0-9+/]{86}==)', 1),
  rule('azure-sas', 'SharedAccessKey=', 'SharedAccessKey=([A-Za-z0-9+/=]{40,})', 1),
  rule('azure-sas', 'sig=', 'sig=([A-Za-z0-9%+/=]{40,})', 1),
  rule('azure-client-secret', 'Q~', '[A-Za-z0-9_~.\\-]{3}\\dQ~[A-Za-z0-9_~.\\-]{31,34}'),
];

/** Prefixes that may sit right after a word character (they are inside a URL or `key=` pair). */
const INNER_PREFIXES = new Set(['hooks.slack.com/', 'discord.com/api/webhooks/', 'AccountKey=', 'SharedAccessKey=', 'sig=', 'Q~']);

/**
 * Prefixes that must start a word are found through the shared index (one search for every
 * detector's keywords); the few that may sit inside a word are searched for on their own.
 */
const WORD_PREFIXES = [...new Set(KEY_RULES.map((r) => r.prefix))].filter((p) => !INNER_PREFIXES.has(p));
const KEY_PREFIX_WORDS = keywordFamily(WORD_PREFIXES);
const EQUALS_PREFIXES = [...INNER_PREFIXES].filter((p) => p.endsWith('='));
const COM_PREFIXES = [...INNER_PREFIXES].filter((p) => p.includes('.com/')).map((p) => p.slice(0, p.indexOf('.com/')));
const COM_WORDS = keywordFamily(['com/']);
if (EQUALS_PREFIXES.length + COM_PREFIXES.length + 1 !== INNER_PREFIXES.size || !INNER_PREFIXES.has('Q~')) {
  throw new Error('provider-keys: every inner prefix must end in "=", hold ".com/" or be "Q~"');
}
/** Every prefix, longest first, by first character: which one stands at a position. */
const PREFIXES_BY_FIRST = byFirstCode([...new Set(KEY_RULES.map((r) => r.prefix))].sort((a, b) => b.length - a.length), (p) => p);
/** KEY_RULES by the first character of their prefix, in their order (longer prefixes first). */
const RULES_BY_FIRST = byFirstCode(KEY_RULES, (r) => r.prefix);
function byFirstCode<T>(items: readonly T[], prefix: (item: T) => string): ReadonlyMap<number, readonly T[]> {
  const by = new Map<number, T[]>();
  for (const item of items) {
    const c = prefix(item).charCodeAt(0);
    let list = by.get(c);
    if (!list) by.set(c, (list = []));
    list.push(item);
  }
  return by;
}
/** The characters right before the '=' of the '='-ended inner prefixes ("y" of "AccountKey="). */
const BEFORE_EQUALS = new Set(EQUALS_PREFIXES.map((p) => p.charCodeAt(p.length - 2)));

function tryRule(r: KeyRule, text: string, at: number, out: Finding[]): number {
  const start = r.prefix === 'Q~' ? Math.max(0, at - 4) : at;
  const bounded = start === 0 || INNER_PREFIXES.has(r.prefix) || !isWordCode(text.charCodeAt(start - 1));
  if (!bounded) return -1;
  r.pattern.lastIndex = start;
  const m = r.pattern.exec(text);
  if (!m) return -1;
  let s = start;
  let e = start + m[0].length;
  if (r.group !== undefined && m[r.group] !== undefined) {
    s = start + m[0].indexOf(m[r.group]!);
    e = s + m[r.group]!.length;
  }
  out.push({ class: 'API_KEY', start: s, end: e, score: 0.99, detector: `prefix:${r.provider}` });
  return e;
}

/** Candidate positions: word starts the index reports for a prefix, and every inner prefix. */
function candidates(text: string, view: TextView): number[] {
  const at: number[] = [];
  const { positions, masks } = view.wordHits();
  for (let h = 0; h < positions.length; h++) if ((masks[h]! & KEY_PREFIX_WORDS) !== 0) at.push(positions[h]!);
  // The inner prefixes, found from their rarer characters: '=' ("sig=", "AccountKey=",
  // "SharedAccessKey="), '~' ("Q~") and ".com/" (Slack and Discord webhooks).
  const words = at.length;
  const separators = view.separators();
  for (let s = 0; s < separators.length; s++) {
    const i = separators[s]!;
    if (text.charCodeAt(i) !== 61 || !BEFORE_EQUALS.has(text.charCodeAt(i - 1))) continue;
    for (const p of EQUALS_PREFIXES) if (i + 1 >= p.length && text.startsWith(p, i + 1 - p.length)) at.push(i + 1 - p.length);
  }
  // "Q~" is tried from four characters before it and its pattern holds a digit right before it, so
  // from position 4 on only a "Q~" that ends a digit run can match (read from the runs, no search).
  // One that cannot match would only set `last` past its '~', where no prefix starts.
  for (let i = 0; i < 4; i++) if (text.startsWith('Q~', i)) at.push(i);
  const runs = view.digitRuns();
  for (let k = 1; k < runs.length; k += 2) {
    const e = runs[k]!;
    if (e >= 4 && text.charCodeAt(e) === 81 && text.charCodeAt(e + 1) === 126) at.push(e);
  }
  // ".com/": its "com/" starts a word, which the keyword search reports (no keyword holds a
  // non-word character before a "c", so none can span it): no search of the text of its own.
  for (let h = 0; h < positions.length; h++) {
    if ((masks[h]! & COM_WORDS) === 0) continue;
    const i = positions[h]! - 1;
    if (text.charCodeAt(i) !== 46 || !text.startsWith('com/', i + 1)) continue;
    for (const p of COM_PREFIXES) if (i >= p.length && text.startsWith(p, i - p.length)) at.push(i - p.length);
  }
  if (at.length > words) at.sort((a, b) => a - b);
  return at;
}

export const providerKeyDetector: Detector = {
  name: 'provider-keys',
  classes: ['API_KEY'],
  applies: () => true,
  scan(text: string, out: Finding[], view: TextView = new TextView(text)): void {
    let last = 0;
    for (const at of candidates(text, view)) {
      if (at < last) continue;
      // The prefix standing here (prefixes are case-sensitive; the index is not).
      const first = text.charCodeAt(at);
      const prefix = PREFIXES_BY_FIRST.get(first)?.find((p) => text.startsWith(p, at));
      if (prefix === undefined) continue;
      let end = -1;
      // Longer prefixes first: "sk-ant-" is tried before the generic "sk-".
      for (const r of RULES_BY_FIRST.get(first)!) {
        if (!text.startsWith(r.prefix, at)) continue;
        end = tryRule(r, text, at, out);
        if (end !== -1) break;
      }
      last = end > at ? end : at + prefix.length;
    }
  },
};
