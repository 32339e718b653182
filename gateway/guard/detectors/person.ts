/**
 * PERSON, offline: shipped name lexicons (see gateway/guard/data/LICENSES.md), casing, and context.
 * Capitalised tokens are grouped into chains ("Mary J. van Dyke"); a chain is a name when it holds a
 * lexicon name that is not also a common English word, or when a cue ("Mr", "Dear", "my name is")
 * stands before it. Unknown capitalised words join a chain next to a known name ("Kevin Veitonen").
 */
import lexicons from '../data/lexicons.json' with { type: 'json' };
import type { Finding } from '../types.js';
import { type Detector } from './detector.js';


/** Capitalised words that are names in the lexicon but, in prompts, are mostly something else. */
const NOT_NAMES = new Set([
  'christmas', 'easter',
  'god', 'jesus', 'lord', 'allah', 'buddha',
  // software and platforms that double as names
  'kafka', 'jenkins', 'django', 'ruby', 'julia', 'pascal', 'ada', 'haskell', 'travis', 'jasmine', 'cassandra',
  'babel', 'linus', 'swift', 'rust', 'dart', 'perl', 'elixir', 'erlang', 'kotlin', 'scala', 'maven', 'gradle',
  'docker', 'redis', 'mongo', 'postgres', 'mysql', 'nginx', 'apache', 'ubuntu', 'debian', 'fedora', 'alpine',
  'linux', 'windows', 'darwin', 'siri', 'alexa', 'cortana', 'claude', 'gemini', 'llama', 'mistral', 'ollama',
  'goose', 'jest', 'mocha', 'karma', 'sinon', 'chai', 'vue', 'angular', 'svelte', 'ember', 'deno', 'bun',
  'vite', 'webpack', 'rollup', 'terraform', 'ansible', 'helm', 'grafana', 'kibana', 'jira', 'confluence',
  'slack', 'zoom', 'teams', 'github', 'gitlab', 'azure', 'heroku', 'vercel', 'netlify', 'stripe', 'twilio',
  'oracle', 'cisco', 'dell', 'tesla', 'amazon', 'google', 'apple', 'meta', 'openai', 'anthropic', 'mozilla',
  'chrome', 'firefox', 'safari', 'edge', 'opera', 'android', 'ios', 'macos', 'xcode', 'unity', 'godot',
  'london', 'paris', 'berlin', 'madrid', 'rome', 'vienna', 'sydney', 'austin', 'dallas', 'houston', 'denver',
  'phoenix', 'boston', 'chicago', 'jordan', 'israel', 'georgia', 'virginia', 'carolina', 'dakota', 'florida',
  'india', 'china', 'japan', 'france', 'germany', 'spain', 'italy', 'ireland', 'kenya', 'chad', 'victoria',
  'street', 'avenue', 'road', 'lane', 'drive', 'suite', 'apt', 'box', 'unit', 'fax', 'tel', 'desk', 'mobile',
  'corp', 'inc', 'ltd', 'llc', 'gmbh', 'co', 'plc', 'max', 'min', 'avg', 'sum', 'todo', 'fixme', 'note', 'info', 'warn', 'debug', 'trace',
  // countries and nationalities that double as names
  'brazil', 'austria', 'canada', 'cyprus', 'greece', 'greek', 'estonia', 'finland', 'sweden', 'norway', 'denmark',
  'poland', 'hungary', 'portugal', 'belgium', 'netherlands', 'holland', 'switzerland', 'iceland', 'greenland',
  'mexico', 'chile', 'peru', 'argentina', 'colombia', 'cuba', 'russia', 'ukraine', 'turkey', 'egypt', 'morocco',
  'nigeria', 'ghana', 'africa', 'america', 'asia', 'europe', 'australia', 'zealand', 'scotland', 'wales',
  'england', 'britain', 'nicosia', 'lima', 'quebec', 'ontario', 'alberta', 'texas', 'nevada', 'montana',
  'american', 'british', 'english', 'french', 'german', 'spanish', 'italian', 'irish', 'dutch', 'swiss',
  'swedish', 'danish', 'polish', 'russian', 'chinese', 'japanese', 'indian', 'african', 'european', 'latin',
]);
/**
 * Calendar words that are also given names ("Jan", "June", "Sat"): on their own they are dates, so
 * they count as common words and need a neighbouring name ("June Carter", "Jan Novák").
 */
const CALENDAR_WORDS = [
  'january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november',
  'december', 'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec', 'monday',
  'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday', 'mon', 'tue', 'tues', 'wed', 'thu', 'thur',
  'thurs', 'fri', 'sat', 'sun',
];

/** One lookup per word instead of four: lower-case word → flags (the tables are large; misses dominate). */
const GIVEN = 1;
const NAME = 2;
const ENGLISH = 4;
const NOT_NAME = 8;
const LEXICON: ReadonlyMap<string, number> = (() => {
  const flags = new Map<string, number>();
  const add = (joined: string, flag: number) => {
    for (const w of joined.split('\n')) flags.set(w, (flags.get(w) ?? 0) | flag);
  };
  add(lexicons.given, GIVEN);
  add(lexicons.names, NAME);
  add(lexicons.english, ENGLISH);
  for (const w of NOT_NAMES) flags.set(w, (flags.get(w) ?? 0) | NOT_NAME);
  for (const w of CALENDAR_WORDS) flags.set(w, (flags.get(w) ?? 0) | ENGLISH);
  return flags;
})();

const PARTICLES = /^ (?:(?:van|von|de|der|den|da|di|du|del|della|la|le|ten|ter|bin|ibn|al|el|dos|das|do|y|zu) )+$/;
const CUE_BEFORE = /(?:\b(?:mr|mrs|ms|miss|mx|dr|prof|sir|madam|dear|hi|hello|hey|thanks|thank you|regards|sincerely|cheers|best|attn|cc|from|to|by|signed|named|called|contact|customer|patient|client|employee|user|applicant|tenant|husband|wife|son|daughter|kid|child|mother|father|mom|dad|brother|sister|friend|colleague|manager|boss|landlord|doctor|nurse|agent)\.?,?|name is|name's|i am|i'm|this is|ask for|speak to|talk to|name:|author:|owner:|assignee:|reporter:|by:)\s*$/;
const LOCATION_BEFORE = /\b(?:in|at|near|via|visit|visiting|across|around|inside|outside|of)\s$/;
const SURNAME_SHAPE = /(?:sson|sen|dóttir|dottir|ová|ova|ov|ev|eva|ski|ska|sky|ić|vić|ez|yama|moto|uchi|kawa|ainen|inen|nen|escu|elli|etti|ini|ucci|yan|ian|enko|czyk|berg|stein|mann|ström|strom|lund|quist|poulos|akis|oglu|ović|evich|ovich)$/;

/** A capitalised word that may be part of a name; code identifiers are filtered by shape. */
const UPPER = /\p{Lu}/u;
const WORD_CHAR = /[\p{L}\p{M}]/u;

/** Letters, marks, apostrophes and hyphens continue a word; ASCII is decided without a regex. */
function continuesWord(text: string, j: number): boolean {
  const d = text.charCodeAt(j);
  if ((d >= 97 && d <= 122) || (d >= 65 && d <= 90) || d === 39 || d === 45 || d === 8217) return true;
  return d >= 192 && WORD_CHAR.test(text[j]!);
}
/** A token glued to a letter, digit or one of _ . @ / \ # $ & - ' ’ is part of something else. */
const GLUE = /[\p{L}\p{N}_.@/\\#$&\-'’]/u;
function gluedBefore(text: string, at: number): boolean {
  if (at === 0) return false;
  const c = text.charCodeAt(at - 1);
  if (c === 32 || c === 10 || c === 9 || c === 13 || c === 40 || c === 34 || c === 44 || c === 58 || c === 59) return false;
  if (c < 128) return isAsciiGlue(c);
  return GLUE.test(text[at - 1]!);
}
function isAsciiGlue(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46 || c === 64
    || c === 47 || c === 92 || c === 35 || c === 36 || c === 38 || c === 45 || c === 39;
}
const NAME_SHAPE = /^(?:(?:Mc|Mac|O'|O’|D'|D’)?\p{Lu}[\p{Ll}\p{M}]*(?:['’\-]\p{Lu}?[\p{Ll}\p{M}]+)*)$/u;

type Kind = 'strong' | 'weak' | 'unknown' | 'initial' | 'word';
interface Token { start: number; end: number; kind: Kind; given: boolean }

/** "Anna", "Smith": upper-case ASCII letter then lower-case ASCII letters (the common case, no regex). */
function simpleAsciiName(word: string): boolean {
  const c0 = word.charCodeAt(0);
  if (c0 < 65 || c0 > 90) return false;
  for (let i = 1; i < word.length; i++) {
    const c = word.charCodeAt(i);
    if (c < 97 || c > 122) return false;
  }
  return true;
}

const WORD: { kind: Kind; given: boolean } = { kind: 'word', given: false };
const UNKNOWN: { kind: Kind; given: boolean } = { kind: 'unknown', given: false };

function classify(word: string): { kind: Kind; given: boolean } {
  const apostrophe = word.lastIndexOf("'") > 0 ? word.lastIndexOf("'") : word.lastIndexOf('’');
  if (apostrophe > 0 && word.length - apostrophe <= 3 && /^['’](?:s|m|ll|re|ve|d|t)$/i.test(word.slice(apostrophe))) {
    word = word.slice(0, apostrophe);
  }
  if (word.length === 1) return { kind: 'initial', given: false };
  if (!simpleAsciiName(word) && !NAME_SHAPE.test(word)) return { kind: 'word', given: false };
  const flags = LEXICON.get(word.toLowerCase()) ?? 0;
  if (flags & NOT_NAME) return WORD;
  const common = (flags & ENGLISH) !== 0;
  if (flags & NAME) return { kind: common ? 'weak' : 'strong', given: (flags & GIVEN) !== 0 };
  return common ? WORD : UNKNOWN;
}

function emit(text: string, chain: Token[], out: Finding[], singles: Token[]): void {
  // Trim initials at the edges: a name does not start or end with "J.".
  let a = 0;
  let b = chain.length;
  while (a < b && chain[a]!.kind === 'initial') a++;
  while (b > a && chain[b - 1]!.kind === 'initial') b--;
  // A sentence-initial common word that is only a surname ("Call Sarah Connor", "Ask Ann Lee") is not
  // part of the name; a given name that is also a word ("Rose Smith") is.
  while (b - a > 1 && chain[a]!.kind === 'weak' && !chain[a]!.given) a++;
  if (a >= b) return;
  const part = chain.slice(a, b);
  const start = part[0]!.start;
  let end = part[part.length - 1]!.end;
  const strong = part.filter((t) => t.kind === 'strong').length;
  const weak = part.filter((t) => t.kind === 'weak').length;
  const unknown = part.filter((t) => t.kind === 'unknown').length;
  const initials = part.filter((t) => t.kind === 'initial').length;
  const lineAlone = (): boolean => /(?:^|\n)[ \t]*$/.test(text.slice(Math.max(0, start - 8), start))
    && /^[ \t]*(?:\r?\n|$)/.test(text.slice(part[part.length - 1]!.end, part[part.length - 1]!.end + 4));
  const before = text.slice(Math.max(0, start - 24), start).toLowerCase();
  const cue = CUE_BEFORE.test(before);
  let score = 0;
  if (part.length === 1) {
    const t = part[0]!;
    if (t.kind === 'strong') score = LOCATION_BEFORE.test(before) ? 0 : cue ? 0.85 : 0.7;
    else if ((t.kind === 'weak' || t.kind === 'unknown') && cue && /\b(?:mr|mrs|ms|miss|dr|prof|dear|name is|i am|i'm)\.?,?\s*$/.test(before)) score = 0.75;
  } else if (strong >= 1 || (part[0]!.given && part.length >= 2)) {
    score = strong >= 2 || (strong >= 1 && part[0]!.given) ? 0.9 : 0.8;
  } else if (unknown >= 1 && unknown + weak + initials === part.length) {
    // "Ravil G Yefimov": two words around an initial is the shape of a full name.
    const initialInside = initials > 0 && part.length >= 3;
    const shaped = part.some((t) => SURNAME_SHAPE.test(text.slice(t.start, t.end).toLowerCase()) || /[^\x00-\x7f]/.test(text.slice(t.start, t.end)));
    if (cue || initialInside || shaped || lineAlone()) score = initialInside ? 0.75 : 0.65;
  } else if (cue && weak >= 1) {
    score = 0.65;
  }
  if (score === 0) {
    if (part.length === 1 && (part[0]!.kind === 'unknown' || part[0]!.kind === 'weak')) singles.push(part[0]!);
    return;
  }
  // Possessive "'s" is not part of the name.
  if (/['’]s$/.test(text.slice(start, end))) end -= 2;
  out.push({ class: 'PERSON', start, end, score, detector: 'lexicon:person' });
}

/** "my name is lena andersson": after an explicit name cue, lower-case lexicon names count too. */
const LOWER_NAME_CUE = /\b(?:my name is|name is|name:|i am|i'm|called|named)\s+((?:\p{Ll}[\p{Ll}\p{M}'’\-]*)(?: \p{Ll}\.?)?(?: \p{Ll}[\p{Ll}\p{M}'’\-]*){0,2})/gu;
function addLowerCaseAfterCue(text: string, out: Finding[]): void {
  LOWER_NAME_CUE.lastIndex = 0;
  for (let m = LOWER_NAME_CUE.exec(text); m !== null; m = LOWER_NAME_CUE.exec(text)) {
    const words = m[1]!.split(' ');
    // Keep the leading words that are lexicon names and not common English words.
    let keep = 0;
    for (const w of words) {
      const flags = LEXICON.get(w.replace(/\.$/, '')) ?? 0;
      const initial = /^\p{Ll}\.?$/u.test(w);
      if (!initial && (!(flags & NAME) || (flags & (ENGLISH | NOT_NAME)))) break;
      keep++;
    }
    while (keep > 0 && /^\p{Ll}\.?$/u.test(words[keep - 1]!)) keep--;
    if (keep === 0) continue;
    const start = m.index + m[0].length - m[1]!.length;
    const end = start + words.slice(0, keep).join(' ').length;
    out.push({ class: 'PERSON', start, end, score: 0.7, detector: 'lexicon:person' });
  }
}

const LIST_GAP = /^(?:, | and |, and | & | or )$/;

/** "Usamov and Bowers", "Kónya, Becker and Vasquez": an unknown word listed with names is one too. */
function addListNeighbours(text: string, singles: Token[], out: Finding[], firstOwn: number): void {
  let changed = true;
  while (changed) {
    changed = false;
    for (let i = singles.length - 1; i >= 0; i--) {
      const t = singles[i]!;
      if (t.kind !== 'unknown' && !t.given) continue;
      for (let j = firstOwn; j < out.length; j++) {
        const f = out[j]!;
        const gap = f.end <= t.start ? text.slice(f.end, t.start) : t.end <= f.start ? text.slice(t.end, f.start) : '';
        if (gap.length > 0 && gap.length <= 6 && LIST_GAP.test(gap)) {
          out.push({ class: 'PERSON', start: t.start, end: t.end, score: 0.6, detector: 'lexicon:person' });
          singles.splice(i, 1);
          changed = true;
          break;
        }
      }
    }
  }
}

export const personDetector: Detector = {
  name: 'person',
  classes: ['PERSON'],
  applies: () => true,
  scan(text: string, out: Finding[]): void {
    let chain: Token[] = [];
    const singles: Token[] = [];
    const firstOwn = out.length;
    const flush = (): void => {
      // Split at plain words: "Thanks Mary Smith" → [Mary Smith].
      let run: Token[] = [];
      for (const t of chain) {
        if (t.kind === 'word') {
          if (run.length) emit(text, run, out, singles);
          run = [];
        } else run.push(t);
      }
      if (run.length) emit(text, run, out, singles);
      chain = [];
    };
    // A hand-rolled tokenizer: one charCodeAt pass, no match arrays for the (many) non-capitalised words.
    const n = text.length;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (!(c >= 65 && c <= 90) && !(c >= 192 && UPPER.test(text[i]!))) continue;
      let j = i + 1;
      while (j < n && continuesWord(text, j)) j++;
      const m = { index: i };
      let word = text.slice(i, j);
      i = j - 1;
      if (gluedBefore(text, m.index)) continue;
      // Followed by a digit or one of _ / + = @ it is part of a token, a path or base64, not a name.
      const next = text.charCodeAt(m.index + word.length);
      if ((next >= 48 && next <= 57) || next === 95 || next === 47 || next === 43 || next === 61 || next === 64 || word.length > 40) {
        flush();
        continue;
      }
      // Method calls and member access ("Foo.bar", "Foo(") are code, not names.
      const after = text.charCodeAt(m.index + word.length);
      if (after === 40 || (after === 46 && /[a-z]/.test(text[m.index + word.length + 1] ?? ''))) {
        flush();
        continue;
      }
      if (word.endsWith('-') || word.endsWith("'")) word = word.slice(0, -1);
      const { kind, given } = classify(word);
      const tok: Token = { start: m.index, end: m.index + word.length, kind, given };
      if (chain.length > 0) {
        const prev = chain[chain.length - 1]!;
        const gapLength = tok.start - prev.end;
        let joined = false;
        if (chain.length < 4 && gapLength <= 24) {
          if (gapLength === 1) joined = text.charCodeAt(prev.end) === 32;
          else if (gapLength === 2 && prev.kind === 'initial') joined = text.startsWith('. ', prev.end);
          else if (gapLength >= 3) joined = PARTICLES.test(text.slice(prev.end, tok.start));
        }
        if (!joined) flush();
      }
      chain.push(tok);
    }
    flush();
    if (singles.length > 0) addListNeighbours(text, singles, out, firstOwn);
    if (text.includes('name')) addLowerCaseAfterCue(text, out);
  },
};
