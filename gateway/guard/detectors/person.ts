/**
 * PERSON, offline: shipped name lexicons (see gateway/guard/data/LICENSES.md), casing, and context.
 * Capitalised tokens are grouped into chains ("Mary J. van Dyke"); a chain is a name when it holds a
 * lexicon name that is not also a common English word, or when a cue ("Mr", "Dear", "my name is")
 * stands before it. Unknown capitalised words join a chain next to a known name ("Kevin Veitonen").
 */
import lexicons from '../data/lexicons.json' with { type: 'json' };
import type { Finding } from '../types.js';
import { keywordFamily, TextView } from './text-view.js';
import { isRegexSpace, type Detector } from './detector.js';


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
/** Salutations, greetings and sign-offs in the languages the guard sees: words around a name, never one. */
const SALUTATION_WORDS = [
  'hi', 'hello', 'hey', 'dear', 'thanks', 'cheers', 'regards', 'sincerely', 'sir', 'madam', 'sehr', 'geehrte',
  'geehrter', 'damen', 'herren', 'liebe', 'lieber', 'hallo', 'mit', 'freundlichen', 'grüßen', 'grüße', 'madame',
  'monsieur', 'mesdames', 'messieurs', 'cordialement', 'bonjour', 'señor', 'señora', 'señores', 'estimado',
  'estimada', 'estimados', 'saludos', 'hola', 'gentile', 'gentili', 'signore', 'signora', 'signori', 'cliente',
  'egregio', 'cordiali', 'saluti', 'buongiorno',
];
/**
 * Cities that are mostly places in prompts (not given names that are also cities: Florence, Austin
 * and Charlotte stay names). Multi-word ones are matched as whole chains.
 */
const CITY_WORDS = [
  'lisbon', 'porto', 'nairobi',  'cairo', 'dubai', 'doha', 'riyadh', 'istanbul', 'ankara', 'athens', 'prague',
  'warsaw', 'krakow', 'budapest', 'bucharest',  'belgrade', 'zagreb', 'ljubljana', 'bratislava', 'munich',
  'münchen', 'hamburg', 'frankfurt', 'cologne', 'köln', 'stuttgart', 'düsseldorf', 'leipzig', 'dresden', 'bremen',
  'hannover', 'zurich', 'zürich', 'geneva', 'genève', 'basel', 'bern', 'lausanne', 'lyon', 'marseille', 'toulouse',
  'nantes', 'bordeaux', 'lille', 'strasbourg',  'rennes', 'barcelona',  'sevilla', 'seville',
  'bilbao', 'zaragoza', 'málaga', 'malaga', 'milan', 'milano', 'turin', 'torino', 'naples', 'napoli', 'roma',
  'firenze', 'bologna', 'venice', 'venezia', 'genoa', 'amsterdam', 'rotterdam', 'utrecht', 'eindhoven', 'brussels',
  'antwerp', 'ghent', 'copenhagen', 'aarhus', 'stockholm', 'gothenburg', 'malmö', 'oslo',  'helsinki',
  'tampere', 'reykjavik', 'dublin', 'cork', 'edinburgh', 'glasgow', 'manchester', 'liverpool', 'birmingham', 'leeds',
  'bristol', 'cardiff', 'belfast', 'oxford', 'cambridge', 'brighton', 'norwich', 'toronto', 'montreal', 'vancouver',
  'ottawa', 'calgary', 'seattle', 'portland', 'oakland', 'sacramento', 'atlanta', 'miami', 'tampa', 'detroit',
  'pittsburgh', 'philadelphia', 'baltimore', 'cleveland', 'cincinnati', 'minneapolis', 'milwaukee', 'nashville',
  'memphis', 'seoul', 'tokyo', 'osaka', 'kyoto', 'beijing', 'shanghai', 'shenzhen', 'singapore', 'jakarta',
  'bangkok', 'manila', 'hanoi', 'mumbai', 'bangalore', 'bengaluru', 'delhi', 'chennai', 'hyderabad', 'pune',
  'karachi', 'lahore', 'dhaka', 'tehran', 'baghdad', 'beirut', 'amman', 'jerusalem', 'johannesburg', 'durban',
  'accra', 'addis', 'casablanca', 'tunis', 'algiers', 'melbourne', 'brisbane', 'perth', 'auckland',
  'bogotá', 'bogota', 'caracas', 'quito', 'montevideo', 'kyiv', 'kiev', 'moscow', 'minsk', 'vilnius',
  'riga', 'tallinn', 'gdansk', 'wroclaw', 'poznan', 'brno', 'graz', 'salzburg', 'innsbruck',
];
const PLACE_PHRASES = new Set([
  'palo alto', 'san francisco', 'new york', 'los angeles', 'menlo park', 'mountain view', 'santa clara', 'san jose',
  'san diego', 'las vegas', 'salt lake city', 'new orleans', 'fort worth', 'tel aviv', 'buenos aires', 'rio de janeiro',
  'são paulo', 'sao paulo', 'hong kong', 'kuala lumpur', 'cape town', 'mexico city', 'new delhi', 'abu dhabi',
  'st louis', 'saint louis', 'santa monica', 'redwood city', 'sunnyvale', 'cupertino', 'frankfurt am main', 'den haag',
  'the hague', 'addis ababa', 'dar es salaam', 'ho chi minh', 'kansas city', 'st petersburg', 'saint petersburg',
  'damen und herren', 'ladies and gentlemen', 'sir or madam', 'madame monsieur',
]);
/** Country and territory names (ICU's English, German, French, Spanish and Italian display names). */
const COUNTRY_NAMES: readonly string[] = (() => {
  const names = new Set<string>();
  const locales = ['en', 'de', 'fr', 'es', 'it'];
  for (const locale of locales) {
    let display: Intl.DisplayNames;
    try {
      display = new Intl.DisplayNames([locale], { type: 'region' });
    } catch {
      continue;
    }
    for (let a = 65; a <= 90; a++) {
      for (let b = 65; b <= 90; b++) {
        const code = String.fromCharCode(a, b);
        try {
          const name = display.of(code);
          if (name && name !== code) names.add(name.toLowerCase().replace(/[()]/g, '').replace(/\s*&\s*/g, ' and ').trim());
        } catch { /* not a region code */ }
      }
    }
  }
  return [...names];
})();
for (const c of COUNTRY_NAMES) {
  if (c.includes(' ')) PLACE_PHRASES.add(c.replace(/\./g, ''));
}

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
  for (const w of SALUTATION_WORDS) flags.set(w, (flags.get(w) ?? 0) | NOT_NAME);
  for (const w of CITY_WORDS) flags.set(w, (flags.get(w) ?? 0) | NOT_NAME);
  for (const c of COUNTRY_NAMES) if (!c.includes(' ') && !c.includes('-')) flags.set(c, (flags.get(c) ?? 0) | NOT_NAME);
  for (const w of CALENDAR_WORDS) flags.set(w, (flags.get(w) ?? 0) | ENGLISH);
  return flags;
})();

const PARTICLE_WORDS = ['van', 'von', 'de', 'der', 'den', 'da', 'di', 'du', 'del', 'della', 'la', 'le', 'ten', 'ter', 'bin', 'ibn', 'al',
  'el', 'dos', 'das', 'do', 'y', 'zu'];
const PARTICLES = new RegExp(`^ (?:(?:${PARTICLE_WORDS.join('|')}) )+$`);
/** First letters of the particles (PARTICLES is case-sensitive). */
const PARTICLE_FIRST = new Set(PARTICLE_WORDS.map((w) => w.charCodeAt(0)));
/**
 * Whether PARTICLES can hold for text[from, to): it starts with a space and a particle's first
 * letter and ends with a space. Most gaps between capitalised words (", ", " = new ") fail here
 * without a slice and a regex.
 */
function mayBeParticles(text: string, from: number, to: number): boolean {
  return text.charCodeAt(from) === 32 && text.charCodeAt(to - 1) === 32 && PARTICLE_FIRST.has(text.charCodeAt(from + 1));
}
const CUE_BEFORE = /(?:\b(?:mr|mrs|ms|miss|mx|dr|prof|sir|madam|dear|hi|hello|hey|thanks|thank you|regards|sincerely|cheers|best|attn|cc|from|to|by|signed|named|called|contact|customer|patient|client|employee|user|applicant|tenant|husband|wife|son|daughter|kid|child|mother|father|mom|dad|brother|sister|friend|colleague|manager|boss|landlord|doctor|nurse|agent)\.?[,:]?|name is|name's|i am|i'm|this is|ask for|speak to|talk to|name:|author:|owner:|assignee:|reporter:|by:)\s*$/;
const LOCATION_BEFORE = /\b(?:in|at|near|via|visit|visiting|across|around|inside|outside|of)\s$/;
const SURNAME_SHAPE = /(?:sson|sen|dóttir|dottir|ová|ova|ov|ev|eva|ski|ska|sky|ić|vić|ez|yama|moto|uchi|kawa|ainen|inen|nen|escu|elli|etti|ini|ucci|yan|ian|enko|czyk|berg|stein|mann|ström|strom|lund|quist|poulos|akis|oglu|ović|evich|ovich)$/;

/** A capitalised word that may be part of a name; code identifiers are filtered by shape. */
const UPPER = /\p{Lu}/u;
const WORD_CHAR = /[\p{L}\p{M}]/u;

/**
 * Where the next name may start: a capital (A–Z, a Latin-1 capital À–Þ other than ×, or a code unit
 * above U+00FF that UPPER accepts) not glued to an ASCII letter, digit or one of _ . @ / \ # $ & ' ’ -
 * before it (camelCase humps, paths, member access), found natively instead of returning each one to
 * the loop. The search matches the character before the capital together with it, and the capital
 * in two ranges (A–Z, U+00C0–U+FFFF): V8 runs that form ≈ 40 % faster than one capital class of four
 * ranges with a look-behind for the glue. What the wider class also finds (× and the lower-case
 * Latin-1 letters ß–ÿ, and non-capitals above U+00FF) is skipped by `isNameCapital`; a capital at
 * offset 0 has no character before it and is tested by hand. A capital glued to a non-ASCII letter
 * or digit is caught by gluedBefore().
 */
const FREE_CAPITAL = /[^A-Za-z0-9_.@/\\#$&'’\-][A-Z\u00C0-\uFFFF]/g;
/** The first candidate at or after `from` (≥ 0) of a capital not glued to ASCII glue, or -1. */
function nextCapitalCandidate(text: string, from: number): number {
  if (from === 0) {
    if (text.length === 0) return -1;
    const c = text.charCodeAt(0);
    if ((c >= 65 && c <= 90) || c >= 192) return 0;
  }
  FREE_CAPITAL.lastIndex = from === 0 ? 0 : from - 1;
  return FREE_CAPITAL.test(text) ? FREE_CAPITAL.lastIndex - 1 : -1;
}
/** A candidate that is a capital: A–Z, À–Ö, Ø–Þ, or \p{Lu} above U+00FF. */
function isNameCapital(text: string, at: number, c: number): boolean {
  if (c < 215) return true;
  return c > 255 ? UPPER.test(text[at]!) : c >= 216 && c <= 222;
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
/**
 * The current chain of capitalised words, as parallel arrays reused by every scan: a chain never
 * holds more than 4 words (a fifth is not joined), and one object per capitalised word (≈ 13 000 per
 * MB of code) cost more in allocation and GC than the rest of the word's handling. Only the lone
 * words kept for addListNeighbours become Token objects.
 */
const CHAIN_MAX = 4;
const chainStarts = new Int32Array(CHAIN_MAX);
const chainEnds = new Int32Array(CHAIN_MAX);
const chainClasses: WordClass[] = [];

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

function isLowerAsciiCode(c: number): boolean {
  return c >= 97 && c <= 122;
}

/** classify() results are shared constants: one per kind, no allocation per word. */
type WordClass = Readonly<{ kind: Kind; given: boolean }>;
const WORD: WordClass = { kind: 'word', given: false };
const UNKNOWN: WordClass = { kind: 'unknown', given: false };
const INITIAL: WordClass = { kind: 'initial', given: false };
const STRONG: WordClass = { kind: 'strong', given: false };
const STRONG_GIVEN: WordClass = { kind: 'strong', given: true };
const WEAK: WordClass = { kind: 'weak', given: false };
const WEAK_GIVEN: WordClass = { kind: 'weak', given: true };

/**
 * LEXICON's words made of a–z only (up to 31 letters), in an open-addressing table that is probed
 * straight from the text's characters (A–Z folded to a–z): an ASCII word costs no slice, no
 * lower-cased string and no string hashing. Holds exactly what LEXICON.get() gives for such a word.
 * Each slot is two adjacent integers, the word's hash and (offset of the word in one string of all
 * words, length, flags) packed, so the table is 1 MB and a word that is not there (most) costs one
 * memory line, a word that is there two.
 */
const ASCII_LEXICON_BITS = 17; // 131 072 slots for ≈ 80 000 words
const ASCII_LEXICON_MASK = (1 << ASCII_LEXICON_BITS) - 1;
const ASCII_LEXICON_LONGEST = 31;
const asciiLexiconSlots = new Int32Array(2 << ASCII_LEXICON_BITS);
let asciiLexiconWords = '';
/** FNV-1a over text[start, end) with A–Z folded to a–z (callers pass ASCII letters only). */
function foldedHash(text: string, start: number, end: number): number {
  let h = 0x811c9dc5 | 0;
  for (let i = start; i < end; i++) h = Math.imul(h ^ (text.charCodeAt(i) | 32), 0x01000193);
  return h;
}
{
  const words: string[] = [];
  let offset = 0;
  for (const [word, flags] of LEXICON) {
    if (word.length > ASCII_LEXICON_LONGEST || !/^[a-z]+$/.test(word)) continue;
    const h = foldedHash(word, 0, word.length);
    let slot = h & ASCII_LEXICON_MASK;
    while (asciiLexiconSlots[2 * slot + 1] !== 0) slot = (slot + 1) & ASCII_LEXICON_MASK;
    asciiLexiconSlots[2 * slot] = h;
    asciiLexiconSlots[2 * slot + 1] = (offset << 9) | (word.length << 4) | flags; // never 0: length ≥ 1
    words.push(word);
    offset += word.length;
  }
  asciiLexiconWords = words.join('');
  if (offset >= 1 << 22) throw new Error('person: ASCII lexicon too large for its slots');
}
/** LEXICON.get() of text[start, end) lower-cased, for a word of ASCII letters; 0 when absent. */
function asciiLexiconFlagsAt(text: string, start: number, end: number): number {
  const length = end - start;
  if (length > ASCII_LEXICON_LONGEST) return LEXICON.get(text.slice(start, end).toLowerCase()) ?? 0;
  return asciiLexiconProbe(text, start, end, foldedHash(text, start, end));
}
/** The probe of asciiLexiconFlagsAt, for a word of at most ASCII_LEXICON_LONGEST letters whose foldedHash is `h`. */
function asciiLexiconProbe(text: string, start: number, end: number, h: number): number {
  const length = end - start;
  for (let slot = h & ASCII_LEXICON_MASK; ; slot = (slot + 1) & ASCII_LEXICON_MASK) {
    const packed = asciiLexiconSlots[2 * slot + 1]!;
    if (packed === 0) return 0;
    if (asciiLexiconSlots[2 * slot]! !== h || ((packed >>> 4) & 31) !== length) continue;
    const offset = packed >>> 9;
    let i = 0;
    while (i < length && asciiLexiconWords.charCodeAt(offset + i) === (text.charCodeAt(start + i) | 32)) i++;
    if (i === length) return packed & 15;
  }
}

/**
 * classify() for text[start, end): the common "Anna" shape (A–Z then a–z) is checked on char codes
 * and looked up in the ASCII table; everything else goes through classify(). `lowerKeepsOffsets`
 * says whether lower-casing the whole text kept its length: when it did not ("İ"), every word goes
 * through classify(), as when the lookup read a slice of the lower-cased text.
 */
function classifyAt(text: string, lowerKeepsOffsets: boolean, start: number, end: number): WordClass {
  if (lowerKeepsOffsets && isSimpleAsciiNameAt(text, start, end)) {
    if (end - start === 1) return INITIAL;
    return flagsClass(asciiLexiconFlagsAt(text, start, end));
  }
  // ASCII letters only, capital first, a capital inside ("TextView", "HTTP", "McKay"): no
  // apostrophe to strip, and NAME_SHAPE holds only for Mc/Mac + a simple name, so classify()'s
  // slice and regex are skipped for the camel-case and acronym words that fill code.
  if (lowerKeepsOffsets && isAsciiLettersAt(text, start, end)) {
    if ((end - start > 2 && text.startsWith('Mc', start) && isSimpleAsciiNameAt(text, start + 2, end))
      || (end - start > 3 && text.startsWith('Mac', start) && isSimpleAsciiNameAt(text, start + 3, end))) {
      return flagsClass(asciiLexiconFlagsAt(text, start, end));
    }
    return WORD;
  }
  return classify(text.slice(start, end));
}
/** text[start, end) is two or more ASCII letters and starts with A–Z. */
function isAsciiLettersAt(text: string, start: number, end: number): boolean {
  if (end - start < 2) return false;
  const c0 = text.charCodeAt(start);
  if (c0 < 65 || c0 > 90) return false;
  for (let i = start + 1; i < end; i++) {
    const c = text.charCodeAt(i) | 32;
    if (c < 97 || c > 122) return false;
  }
  return true;
}
function isSimpleAsciiNameAt(text: string, start: number, end: number): boolean {
  const c0 = text.charCodeAt(start);
  if (c0 < 65 || c0 > 90) return false;
  for (let i = start + 1; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c < 97 || c > 122) return false;
  }
  return true;
}

function classify(word: string): WordClass {
  if (simpleAsciiName(word)) {
    if (word.length === 1) return INITIAL;
    return lexiconClass(word);
  }
  const apostrophe = word.lastIndexOf("'") > 0 ? word.lastIndexOf("'") : word.lastIndexOf('’');
  if (apostrophe > 0 && word.length - apostrophe <= 3 && /^['’](?:s|m|ll|re|ve|d|t)$/i.test(word.slice(apostrophe))) {
    word = word.slice(0, apostrophe);
  }
  if (word.length === 1) return INITIAL;
  if (!simpleAsciiName(word) && !NAME_SHAPE.test(word)) return WORD;
  return lexiconClass(word);
}

function lexiconClass(word: string): WordClass {
  return flagsClass(isAsciiLetters(word) ? asciiLexiconFlagsAt(word, 0, word.length) : LEXICON.get(word.toLowerCase()) ?? 0);
}
function isAsciiLetters(word: string): boolean {
  for (let i = 0; i < word.length; i++) {
    const c = word.charCodeAt(i) | 32;
    if (c < 97 || c > 122) return false;
  }
  return word.length > 0;
}

function flagsClass(flags: number): WordClass {
  if (flags & NOT_NAME) return WORD;
  const common = (flags & ENGLISH) !== 0;
  if (flags & NAME) {
    const given = (flags & GIVEN) !== 0;
    return common ? (given ? WEAK_GIVEN : WEAK) : (given ? STRONG_GIVEN : STRONG);
  }
  return common ? WORD : UNKNOWN;
}

/** Lower-cased look-back window for the cue rules (only built when a rule needs it). */
function lowerBefore(text: string, start: number): string {
  return text.slice(Math.max(0, start - 24), start).toLowerCase();
}
/** The cues that make a lone lexicon-word or unknown word a name; a subset of CUE_BEFORE. */
const STRONG_CUE_BEFORE = /\b(?:mr|mrs|ms|miss|dr|prof|dear|name is|i am|i'm)\.?,?\s*$/;

/**
 * Whether STRONG_CUE_BEFORE can match before `start`: every cue word ends in r, s, f or m, followed
 * only by an optional '.', an optional ',' and spaces. Most capitalised words fail this at once.
 */
function mayFollowStrongCue(text: string, start: number): boolean {
  let i = start - 1;
  while (i >= 0 && isRegexSpace(text.charCodeAt(i))) i--;
  if (i >= 0 && text.charCodeAt(i) === 44) i--;
  if (i >= 0 && text.charCodeAt(i) === 46) i--;
  if (i < 0) return false;
  const c = text.charCodeAt(i) | 32;
  return c === 114 || c === 115 || c === 102 || c === 109;
}

/** Start of a chat line: "[09:14] ", "09:14 ", "- ", or nothing. */
const SPEAKER_BEFORE = /(?:^|\n)[ \t]*(?:(\[[^\]\n]{1,25}\][ \t]*|\d{1,2}:\d{2}(?::\d{2})?[ \t]+)|[-*>][ \t]+)?$/;
const SPEAKER_LINE = /(?:^|\n)[ \t]*(?:\[[^\]\n]{1,25}\][ \t]*|\d{1,2}:\d{2}(?::\d{2})?[ \t]+)?(\p{Lu}[\p{Ll}\p{M}]+):[ \t]/gu;
let speakerText: string | null = null;
let speakerHasKnownName = false;
/** Whether some chat line of the text is spoken by a lexicon name (computed once per text). */
function hasKnownSpeaker(text: string): boolean {
  if (speakerText !== text) {
    speakerText = text;
    speakerHasKnownName = false;
    SPEAKER_LINE.lastIndex = 0;
    for (let m = SPEAKER_LINE.exec(text); m !== null; m = SPEAKER_LINE.exec(text)) {
      const cls = lexiconClass(m[1]!);
      if (cls.kind === 'strong' || cls.given) { speakerHasKnownName = true; break; }
    }
  }
  return speakerHasKnownName;
}
/**
 * "Delia: did the deploy go out?": a lone first name opening a chat line. A word the lexicon does not
 * know counts only after a chat timestamp or beside a known speaker ("Args:" in a docstring does not).
 */
function isChatSpeaker(text: string, start: number, end: number, unknown: boolean): boolean {
  if (text.charCodeAt(end) !== 58 || !(text.charCodeAt(end + 1) === 32 || text.charCodeAt(end + 1) === 9)) return false;
  const before = SPEAKER_BEFORE.exec(text.slice(Math.max(0, start - 32), start));
  if (!before) return false;
  return !unknown || before[1] !== undefined || hasKnownSpeaker(text);
}

const STREET_WORDS = 'Street|St|Road|Rd|Avenue|Ave|Lane|Boulevard|Blvd|Drive|Bridge|Gateway|Square|Terrace|Crescent|Parkway|Highway|Plaza';
const STREET_WORD_AFTER = new RegExp(`^ (?:${STREET_WORDS})\\b`);
const STREET_WORD_SET = new Set(STREET_WORDS.split('|'));
const STREET_SUFFIXES = ['strasse', 'straße', 'gasse', 'weg', 'allee', 'platz'];
const LETTERS = /^\p{L}+$/u;
/** `^(?:STREET_WORDS|\p{L}+(?:strasse|…|platz))$`, without a regex for the common miss. */
function isStreetWord(word: string): boolean {
  if (STREET_WORD_SET.has(word)) return true;
  for (const s of STREET_SUFFIXES) if (word.length > s.length && word.endsWith(s)) return LETTERS.test(word);
  return false;
}
/** " Street", " Road"…: a space, then the first letter of one of STREET_WORDS. */
function mayPrecedeStreetWord(text: string, end: number): boolean {
  if (text.charCodeAt(end) !== 32) return false;
  const c = text.charCodeAt(end + 1);
  return c === 83 || c === 82 || c === 65 || c === 76 || c === 66 || c === 68 || c === 71 || c === 84 || c === 67 || c === 80 || c === 72;
}

/** "Hi Onufry,", "Hello Delia!": a greeting, then one word and the end of the greeting. */
const GREETING_BEFORE = /(?:^|[^\p{L}])(?:hi|hello|hey|dear|thanks|thank you|cheers|morning|good morning)\s$/u;
/** `/^(?:[,!:\n]|$| -)/` over the two characters after `end`, on char codes (no slice). */
function greetedAfter(text: string, end: number): boolean {
  if (end >= text.length) return true;
  const c = text.charCodeAt(end);
  return c === 44 || c === 33 || c === 58 || c === 10 || (c === 32 && text.charCodeAt(end + 1) === 45);
}

/** Scores chain[from, to) (a run without plain words) and pushes it when it reads as a name. */
function emit(text: string, from: number, to: number, out: Finding[], singles: Token[]): void {
  const chain = chainClasses;
  // Trim initials at the edges: a name does not start or end with "J.".
  let a = from;
  let b = to;
  while (a < b && chain[a]!.kind === 'initial') a++;
  while (b > a && chain[b - 1]!.kind === 'initial') b--;
  // A sentence-initial common word that is only a surname ("Call Sarah Connor", "Ask Ann Lee") is not
  // part of the name; a given name that is also a word ("Rose Smith") is.
  while (b - a > 1 && chain[a]!.kind === 'weak' && !chain[a]!.given) a++;
  if (a >= b) return;
  const first = chain[a]!;
  const length = b - a;
  const start = chainStarts[a]!;
  const lastStart = chainStarts[b - 1]!;
  const lastEnd = chainEnds[b - 1]!;
  let end = lastEnd;
  let strong = 0;
  let weak = 0;
  let unknown = 0;
  let initials = 0;
  for (let k = a; k < b; k++) {
    const kind = chain[k]!.kind;
    if (kind === 'strong') strong++;
    else if (kind === 'weak') weak++;
    else if (kind === 'unknown') unknown++;
    else if (kind === 'initial') initials++;
  }
  let score = 0;
  if (length === 1) {
    if (first.kind === 'strong') {
      const before = lowerBefore(text, start);
      // "in Hampton" is a place; "shouted at Gary" is still a person.
      score = LOCATION_BEFORE.test(before) && !first.given ? 0 : CUE_BEFORE.test(before) ? 0.85 : 0.7;
    } else if ((first.given || first.kind === 'unknown') && isChatSpeaker(text, start, lastEnd, first.kind === 'unknown')) {
      score = 0.75;
    } else if ((first.kind === 'weak' || first.kind === 'unknown') && ((mayFollowStrongCue(text, start) && STRONG_CUE_BEFORE.test(lowerBefore(text, start)))
      || (greetedAfter(text, lastEnd) && GREETING_BEFORE.test(lowerBefore(text, start))))) score = 0.75;
  } else if (strong >= 1 || first.given) {
    score = strong >= 2 || (strong >= 1 && first.given) ? 0.9 : 0.8;
  } else if (unknown >= 1 && unknown + weak + initials === length) {
    // "Ravil G Yefimov": two words around an initial is the shape of a full name.
    const initialInside = initials > 0 && length >= 3;
    if (initialInside || hasCue(text, start) || surnameShaped(text, a, b) || lineAlone(text, start, lastEnd)) score = initialInside ? 0.75 : 0.65;
  } else if (weak >= 1 && hasCue(text, start)) {
    score = 0.65;
  }
  // "Marina Fort Street", "Eriksson Bridge", "Brucker Bundesstrasse": a street's name, not a person's.
  if (score > 0 && ((mayPrecedeStreetWord(text, end) && STREET_WORD_AFTER.test(text.slice(end, end + 14))) || isStreetWord(text.slice(lastStart, end)))) return;
  if (score > 0 && length >= 2 && isPlacePhrase(text.slice(start, end).toLowerCase())) return;
  if (score === 0) {
    if (length === 1 && (first.kind === 'unknown' || first.kind === 'weak')) singles.push({ start, end: lastEnd, kind: first.kind, given: first.given });
    return;
  }
  // Possessive "'s" is not part of the name.
  const apostrophe = text.charCodeAt(end - 2);
  if (end - start >= 2 && text.charCodeAt(end - 1) === 115 && (apostrophe === 39 || apostrophe === 8217)) end -= 2;
  out.push({ class: 'PERSON', start, end, score, detector: 'lexicon:person' });
}

/** PLACE_PHRASES holds the phrase with its full stops dropped ("st louis" for "St. Louis"). */
function isPlacePhrase(lowered: string): boolean {
  return PLACE_PHRASES.has(lowered.includes('.') ? lowered.replace(/\./g, '') : lowered);
}

/** Module-level (not closures per chain): the cue and line tests run only on the branches that read them. */
function hasCue(text: string, start: number): boolean {
  return CUE_BEFORE.test(lowerBefore(text, start));
}
function lineAlone(text: string, start: number, end: number): boolean {
  return /(?:^|\n)[ \t]*$/.test(text.slice(Math.max(0, start - 8), start)) && /^[ \t]*(?:\r?\n|$)/.test(text.slice(end, end + 4));
}

function surnameShaped(text: string, a: number, b: number): boolean {
  for (let k = a; k < b; k++) {
    const word = text.slice(chainStarts[k]!, chainEnds[k]!);
    if (SURNAME_SHAPE.test(word.toLowerCase()) || /[^\x00-\x7f]/.test(word)) return true;
  }
  return false;
}

/** "my name is lena andersson": after an explicit name cue, lower-case lexicon names count too. */
const LOWER_NAME_CUE = /\b(?:my name is|name is|name:|i am|i'm|called|named)\s+((?:\p{Ll}[\p{Ll}\p{M}'’\-]*)(?: \p{Ll}\.?)?(?: \p{Ll}[\p{Ll}\p{M}'’\-]*){0,2})/uy;
const NAME_CUE_WORDS = keywordFamily(['name', 'called', "i'm"]);
/** "am" of "i am": the space before it makes it a word start, which no keyword can span. */
const AM_WORD = keywordFamily(['am']);
/**
 * Where LOWER_NAME_CUE may match, in text order: the index's word starts for "name", "called" and
 * "i'm" (and "my " before a "name"), and every "i am" (from the word starts of its "am").
 */
function lowerNameCueStarts(text: string, view: TextView): number[] {
  const starts: number[] = [];
  const { positions, masks } = view.wordHits();
  let sorted = true;
  for (let h = 0; h < positions.length; h++) {
    const mask = masks[h]!;
    if ((mask & (NAME_CUE_WORDS | AM_WORD)) === 0) continue;
    const at = positions[h]!;
    const before = starts.length;
    if ((mask & NAME_CUE_WORDS) !== 0) {
      if (at >= 3 && text.startsWith('my ', at - 3)) starts.push(at - 3);
      starts.push(at);
    }
    if ((mask & AM_WORD) !== 0 && at >= 2 && text.startsWith('i am', at - 2)) starts.push(at - 2);
    if (before > 0 && starts.length > before && starts[before - 1]! > starts[before]!) sorted = false;
  }
  if (!sorted) starts.sort((a, b) => a - b);
  return starts;
}
/** text.includes('name'), answered from a name-cue keyword hit when there is one. */
function holdsName(text: string, view: TextView): boolean {
  const { positions, masks } = view.wordHits();
  for (let h = 0; h < positions.length; h++) {
    if ((masks[h]! & NAME_CUE_WORDS) !== 0 && text.startsWith('name', positions[h]!)) return true;
  }
  return text.includes('name');
}
function addLowerCaseAfterCue(text: string, cueStarts: readonly number[], out: Finding[]): void {
  let last = 0;
  for (const at of cueStarts) {
    if (at < last) continue;
    LOWER_NAME_CUE.lastIndex = at;
    const m = LOWER_NAME_CUE.exec(text);
    if (!m) continue;
    last = at + m[0].length;
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
        // Gap bounds first: the text between is only sliced when it is short enough to be ", and ".
        const gapStart = f.end <= t.start ? f.end : t.end <= f.start ? t.end : 0;
        const gapEnd = f.end <= t.start ? t.start : t.end <= f.start ? f.start : 0;
        if (gapEnd - gapStart > 0 && gapEnd - gapStart <= 6 && LIST_GAP.test(text.slice(gapStart, gapEnd))) {
          out.push({ class: 'PERSON', start: t.start, end: t.end, score: 0.6, detector: 'lexicon:person' });
          singles.splice(i, 1);
          changed = true;
          break;
        }
      }
    }
  }
}

const NAME_WORD = "\\p{Lu}[\\p{L}\\p{M}'’]*(?:-\\p{Lu}[\\p{L}\\p{M}'’]*)?";
/** "Rolfson - Hettinger", "Boyle - Lesch-Pouros": two surnames around a spaced dash name a firm. */
/**
 * NAME_WORD not glued to a letter, mark or '-' before it. The look-behind comes after the capital,
 * so the search tests it only at capitals instead of at every position.
 */
const FREE_NAME_WORD = "\\p{Lu}(?<![\\p{L}\\p{M}-]\\p{Lu})[\\p{L}\\p{M}'’]*(?:-\\p{Lu}[\\p{L}\\p{M}'’]*)?";
const FIRM_DASH = new RegExp(`${FREE_NAME_WORD} - ${NAME_WORD}(?![\\p{L}\\p{M}])`, 'gu');
/**
 * "Skiles, Dach and Considine", "Weber, Kasten und Matschke": a list of surnames named together is a
 * firm, unless it enumerates after a colon ("founders: Kónya, Becker and Vasquez") or holds given names.
 */
const FIRM_LIST = new RegExp(`(${FREE_NAME_WORD}(?: ${NAME_WORD})?), (${NAME_WORD}(?: ${NAME_WORD})?),? (?:and|und|et|y|e|&) (${NAME_WORD}(?: ${NAME_WORD})?)(?![\\p{L}\\p{M}])`, 'gu');
/** A firm's legal form or family word right after a name: "Harvey Group", "Micco-Sforza SPA", "Becker & Sons". */
const FIRM_SUFFIX = /^,? (?:Group|LLC|L\.L\.C\.|LLP|PLLC|Inc\b\.?|Incorporated|Ltd\b\.?|Limited|Pty\b|Pte\b|GmbH|gGmbH|mbH|AG|KGaA|KG|OHG|GbR|UG|PartG|eG|e\.K\.|e\.V\.|SE|SA|Oy|Oyj|AB|ApS|A\/S|ASA|AS|Sp\. z o\.o\.|s\.r\.o\.|a\.s\.|Kft\b\.?|Zrt\b\.?|Ltda\b\.?|S\.L\.|SL|SAS|S\.A\.S\.|SNC|Sàrl|SARL|S\.à r\.l\.|S\.r\.l\.|K\.K\.|S\.A\.|SpA|SPA|S\.p\.A\.|Srl|SRL|PLC|plc|SEM|SCOP|SARL|SAS|BV|B\.V\.|NV|N\.V\.|Corp\b\.?|Corporation|Co\b\.?|& Co|and Sons|& Sons|und Söhne|e figli|e Figli|Asociados|Associates|Partners|Holdings|Consulting|Labs|Industries|Ventures|Capital|Systems|Solutions|Enterprises|Brothers|Bros\b\.?)(?![\p{L}])/u;

/** FIRM_SUFFIX starts with ", " or " ": checked before slicing the text after a finding. */
function mayPrecedeFirmSuffix(text: string, end: number): boolean {
  const c = text.charCodeAt(end);
  return c === 32 || (c === 44 && text.charCodeAt(end + 1) === 32);
}

function isGivenName(word: string): boolean {
  return ((LEXICON.get(word.toLowerCase()) ?? 0) & GIVEN) !== 0;
}

/**
 * Removes the PERSON findings (from firstOwn on) that sit inside a firm's name. The firm patterns
 * run only on a short window around each finding, so text without names costs nothing here.
 */
function dropFirms(text: string, out: Finding[], firstOwn: number): void {
  let w = firstOwn;
  let windowStart = 0;
  let windowEnd = -1;
  let firms: Array<[number, number]> = [];
  for (let r = firstOwn; r < out.length; r++) {
    const f = out[r]!;
    if (f.class !== 'PERSON') { out[w++] = f; continue; }
    // A window holds any firm name the finding can be part of (a firm is at most a few words).
    if (f.start < windowStart || f.end + 48 > windowEnd) {
      windowStart = Math.max(0, f.start - 64);
      windowEnd = Math.min(text.length, f.end + 96);
      firms = firmSpans(text.slice(windowStart, windowEnd), windowStart);
    }
    const inFirm = firms.some(([a, b]) => f.start < b && a < f.end) || (mayPrecedeFirmSuffix(text, f.end) && FIRM_SUFFIX.test(text.slice(f.end, f.end + 16)));
    if (!inFirm) out[w++] = f;
  }
  out.length = w;
}

/**
 * What any FIRM_DASH / FIRM_LIST match must hold, found from its rare middle (" - ", ", … and")
 * with no look-around at the window's edges: a window without one holds no firm of that kind, and
 * the costlier firm pattern, tried at every capital, is not run over it.
 */
const FIRM_DASH_SHAPE = / - (?<=[\p{L}\p{M}'’] - )\p{Lu}/u;
const FIRM_LIST_SHAPE = new RegExp(`, ${NAME_WORD}(?: ${NAME_WORD})?,? (?:and|und|et|y|e|&) \\p{Lu}`, 'u');

/**
 * Where FIRM_LIST may first match in the window: a match runs from its start to its ", " over
 * name characters and spaces only, so it starts after the last character before the window's first
 * ", " that cannot be one (an ASCII character other than a letter, apostrophe, hyphen or space).
 */
function firmListFrom(window: string): number {
  const comma = window.indexOf(', ');
  if (comma === -1) return 0;
  let i = comma - 1;
  for (; i >= 0; i--) {
    const c = window.charCodeAt(i);
    if (c < 128 && !((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 39 || c === 45 || c === 32)) break;
  }
  return i + 1;
}

/** " and ", " und ", " et ", " y ", " e " or " & ": one search instead of six. */
const LIST_CONJUNCTION = / (?:and|und|et|y|e|&) /;

function firmSpans(window: string, offset: number): Array<[number, number]> {
  const firms: Array<[number, number]> = [];
  if (window.includes(' - ') && FIRM_DASH_SHAPE.test(window)) {
    FIRM_DASH.lastIndex = 0;
    for (let m = FIRM_DASH.exec(window); m !== null; m = FIRM_DASH.exec(window)) firms.push([offset + m.index, offset + m.index + m[0].length]);
  }
  if (window.includes(', ') && LIST_CONJUNCTION.test(window) && FIRM_LIST_SHAPE.test(window)) {
    FIRM_LIST.lastIndex = firmListFrom(window);
    for (let m = FIRM_LIST.exec(window); m !== null; m = FIRM_LIST.exec(window)) {
      if (/:\s*$/.test(window.slice(Math.max(0, m.index - 3), m.index))) continue;
      const given = [m[1]!, m[2]!, m[3]!].filter((x) => isGivenName(x.split(' ')[0]!)).length;
      if (given <= 1) firms.push([offset + m.index, offset + m.index + m[0].length]);
    }
  }
  return firms;
}

/** Header cells that name a column of people. */
const NAME_HEADER = /^(?:name|full_?name|fullname|customer|customer_?name|contact|contact_?name|person|employee|patient|client|owner|first_?name|last_?name|given_?name|surname|family_?name|author|assignee|recipient)$/i;
const CELL_NAME = /^(?:\p{Lu}[\p{L}\p{M}'’\-]*\.?)(?: (?:\p{Lu}[\p{L}\p{M}'’\-]*\.?|van|von|de|der|den|da|di|du|del|della|la|le|ten|ter|bin|al|dos|das|zu)){0,4}$/u;

/**
 * A header word ending a cell (in the lower-cased text): where a CSV header may be. Tried at the word
 * starts the shared index reports; only those lines are split, and the rows under a header until
 * the cell count changes.
 */
const CSV_HEADER_WORD = /(?:full_?name|customer_?name|contact_?name|first_?name|last_?name|given_?name|family_?name|name|customer|contact|person|employee|patient|client|owner|surname|author|assignee|recipient)"?(?=,|\r?\n|$)/y;
/** The same over the text itself, when it folds like its lower-cased copy (TextView.foldsLikeLower). */
const CSV_HEADER_WORD_ANY_CASE = new RegExp(CSV_HEADER_WORD.source, 'iy');
const CSV_HEADER_WORDS = keywordFamily(['name', 'full', 'customer', 'contact', 'person', 'employee', 'patient', 'client', 'owner',
  'first', 'last', 'given', 'surname', 'family', 'author', 'assignee', 'recipient']);

/**
 * CSV: when a header line names a column of people ("name", "full_name", "customer"...), each row's
 * cell in that column is a person when it is shaped like a name. Cells are split on commas outside
 * double quotes.
 */
function addCsvNameColumns(text: string, headerText: string, headerWord: RegExp, view: TextView, out: Finding[]): void {
  if (!headerText.includes(',')) return;
  let done = 0;
  const { positions, masks } = view.wordHits();
  for (let h = 0; h < positions.length; h++) {
    if ((masks[h]! & CSV_HEADER_WORDS) === 0) continue;
    if (!mayEndHeaderWord(headerText, positions[h]!)) continue;
    headerWord.lastIndex = positions[h]!;
    const m = headerWord.exec(headerText);
    if (!m) continue;
    const headerStart = headerText.lastIndexOf('\n', m.index) + 1;
    if (headerStart < done) continue;
    let headerEnd = headerText.indexOf('\n', m.index);
    if (headerEnd === -1) headerEnd = headerText.length;
    done = headerEnd;
    const header = splitCsvLine(text, headerStart, headerEnd);
    if (header.length < 2) continue;
    const columns = header.map((c, k) => (NAME_HEADER.test(text.slice(c[0], c[1]).trim().replace(/^"|"$/g, '')) ? k : -1)).filter((k) => k >= 0);
    if (columns.length === 0) continue;
    let lineStart = headerEnd + 1;
    while (lineStart < text.length) {
      let lineEnd = text.indexOf('\n', lineStart);
      if (lineEnd === -1) lineEnd = text.length;
      const cells = splitCsvLine(text, lineStart, lineEnd);
      if (cells.length !== header.length) break;
      for (const k of columns) {
        let [a, b] = cells[k]!;
        if (text.charCodeAt(a) === 34 && text.charCodeAt(b - 1) === 34) { a++; b--; }
        const cell = text.slice(a, b);
        if (cell.length >= 2 && cell.length <= 60 && CELL_NAME.test(cell)) {
          out.push({ class: 'PERSON', start: a, end: b, score: 0.8, detector: 'csv:person' });
        }
      }
      done = lineEnd;
      lineStart = lineEnd + 1;
    }
  }
}

/**
 * Whether CSV_HEADER_WORD can match at `at`: its words are made of A–Z, a–z and '_' only and must be
 * followed by '"', ',', a line break or the end, none of which can continue such a word, so a match
 * ends where the run of those characters from `at` ends, and the character there must be one of them.
 * Most hits ("name:", "names", "first ") fail this without running the pattern.
 */
function mayEndHeaderWord(headerText: string, at: number): boolean {
  let i = at;
  for (; i < headerText.length; i++) {
    const c = headerText.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95)) break;
  }
  if (i === headerText.length) return true;
  const c = headerText.charCodeAt(i);
  return c === 34 || c === 44 || c === 10 || c === 13;
}

function splitCsvLine(text: string, from: number, to: number): Array<[number, number]> {
  const cells: Array<[number, number]> = [];
  let start = from;
  let quoted = false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === 34) quoted = !quoted;
    else if (c === 44 && !quoted) {
      cells.push([start, i]);
      start = i + 1;
    }
  }
  cells.push([start, to > from && text.charCodeAt(to - 1) === 13 ? to - 1 : to]);
  return cells;
}

export const personDetector: Detector = {
  name: 'person',
  classes: ['PERSON'],
  applies: (text, view?: TextView) => (view ? view.hasUpper || text.includes('name') : true),
  scan(text: string, out: Finding[], view: TextView = new TextView(text)): void {
    // The chain is chain*[0, chainLength), refilled after each flush.
    const chain = chainClasses;
    let chainLength = 0;
    const singles: Token[] = [];
    const firstOwn = out.length;
    const flush = (): void => {
      // Split at plain words: "Thanks Mary Smith" → [Mary Smith].
      let from = 0;
      for (let k = 0; k < chainLength; k++) {
        if (chain[k]!.kind === 'word') {
          if (k > from) emit(text, from, k, out, singles);
          from = k + 1;
        }
      }
      if (chainLength > from) emit(text, from, chainLength, out, singles);
      chainLength = 0;
    };
    // The regex engine skips the (many) non-capitalised characters natively, much faster than a
    // charCodeAt loop; test() with lastIndex allocates no match array. Each word is then read by hand.
    const n = text.length;
    // Some characters change length when lower-cased ("İ"); then words are lowered one by one.
    const lowerKeepsOffsets = view.lowerKeepsOffsets;
    // The next capital is searched from past the last word read, or one past a candidate that is no capital.
    let searchFrom = 0;
    for (let start = nextCapitalCandidate(text, 0); start !== -1; start = nextCapitalCandidate(text, searchFrom)) {
      const c = text.charCodeAt(start);
      if (!isNameCapital(text, start, c)) {
        searchFrom = start + 1;
        continue;
      }
      // Letters, marks, apostrophes and hyphens continue a word (ASCII and Latin-1 decided without a
      // regex). The walk also hashes the word for the lexicon (foldedHash) and notes whether it is
      // the common "Anna" shape or ASCII letters only, which classifyAt would read again: one pass
      // over the word's characters instead of three.
      let j = start + 1;
      let hash = Math.imul((0x811c9dc5 | 0) ^ (c | 32), 0x01000193);
      let lowerTail = true; // text[start + 1, j) is a–z only
      let letters = true; // text[start + 1, j) is A–Z and a–z only
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (d >= 97 && d <= 122) {
          hash = Math.imul(hash ^ d, 0x01000193);
        } else if (d >= 65 && d <= 90) {
          hash = Math.imul(hash ^ (d | 32), 0x01000193);
          lowerTail = false;
        } else if (d === 39 || d === 45 || d === 8217 || (d >= 192 && (d > 255 ? WORD_CHAR.test(text[j]!) : d !== 215 && d !== 247))) {
          lowerTail = false;
          letters = false;
        } else {
          break;
        }
      }
      searchFrom = j;
      if (gluedBefore(text, start)) continue;
      // Followed by a digit or one of _ / + = @ it is part of a token, a path or base64, not a name.
      const next = text.charCodeAt(j);
      if ((next >= 48 && next <= 57) || next === 95 || next === 47 || next === 43 || next === 61 || next === 64 || j - start > 40) {
        flush();
        continue;
      }
      // Method calls and member access ("Foo.bar", "Foo(") are code, not names.
      if (next === 40 || (next === 46 && isLowerAsciiCode(text.charCodeAt(j + 1)))) {
        flush();
        continue;
      }
      const last = text.charCodeAt(j - 1);
      const end = last === 45 || last === 39 ? j - 1 : j;
      let cls: WordClass;
      if (end === j && lowerKeepsOffsets && c >= 65 && c <= 90) {
        // classifyAt's first two cases, from what the walk learnt ("M" may start "Mc"/"Mac").
        if (lowerTail) cls = j - start === 1 ? INITIAL : flagsClass(j - start > ASCII_LEXICON_LONGEST ? asciiLexiconFlagsAt(text, start, j) : asciiLexiconProbe(text, start, j, hash));
        else if (letters && c !== 77) cls = WORD;
        else cls = classifyAt(text, lowerKeepsOffsets, start, end);
      } else {
        cls = classifyAt(text, lowerKeepsOffsets, start, end);
      }
      if (chainLength > 0) {
        const prevEnd = chainEnds[chainLength - 1]!;
        const gapLength = start - prevEnd;
        let joined = false;
        if (chainLength < CHAIN_MAX && gapLength <= 24) {
          if (gapLength === 1) joined = text.charCodeAt(prevEnd) === 32;
          else if (gapLength === 2 && chain[chainLength - 1]!.kind === 'initial') joined = text.startsWith('. ', prevEnd);
          else if (gapLength >= 3) joined = mayBeParticles(text, prevEnd, start) && PARTICLES.test(text.slice(prevEnd, start));
        }
        if (!joined) flush();
      }
      chainStarts[chainLength] = start;
      chainEnds[chainLength] = end;
      chain[chainLength++] = cls;
    }
    flush();
    // Firms go before list neighbours: a word listed beside a firm ("Kausemann-Hasse and Corkery LLC")
    // is not made a person by the firm's surname.
    dropFirms(text, out, firstOwn);
    const listed = out.length;
    if (singles.length > 0) addListNeighbours(text, singles, out, firstOwn);
    // The rule runs only when the text holds "name" (and only where a cue may start).
    const cueStarts = lowerNameCueStarts(text, view);
    if (cueStarts.length > 0 && holdsName(text, view)) addLowerCaseAfterCue(text, cueStarts, out);
    // Header words are ASCII: read case-insensitively from the text when that matches as on its
    // lower-cased copy, from the copy when the text holds a Kelvin sign, and case-sensitively from
    // the text itself when lower-casing changed its length.
    if (view.foldsLikeLower) addCsvNameColumns(text, text, CSV_HEADER_WORD_ANY_CASE, view, out);
    else addCsvNameColumns(text, lowerKeepsOffsets ? view.lower() : text, CSV_HEADER_WORD, view, out);
    dropFirms(text, out, listed);
  },
};
