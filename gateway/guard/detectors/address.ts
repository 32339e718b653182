/**
 * ADDRESS: street lines by street-type words (English and continental forms), unit designators,
 * PO boxes, military addresses, "the corner of … and …", and whatever follows an address cue
 * ("Address:", "I live at", "ship to") up to the end of the line. A street line is extended over the
 * unit, city and postcode that follow it on the same or the next lines.
 */
import type { Finding } from '../types.js';
import { keywordFamily, TextView } from './text-view.js';
import { isRegexSpace, type Detector } from './detector.js';

const W = "[\\p{L}\\p{M}'’.\\-]+";
const CAP = "\\p{Lu}[\\p{L}\\p{M}'’.\\-]*";
/** USPS street suffixes (Publication 28, appendix C) and common abbreviations, plus British forms. */
const STREET_TYPE = '(?:Alley|Annex|Arcade|Avenue|Ave|Bayou|Beach|Bend|Bluffs?|Bottom|Boulevard|Blvd|Branch|Bridge|Brooks?|Burgs?|Bypass|Camp|Canyon|Cape|Causeway|Centers?|Circles?|Cir|Cliffs?|Club|Commons?|Corners?|Course|Courts?|Ct|Coves?|Creek|Crescent|Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|Drives?|Dr|Estates?|Expressway|Extensions?|Falls?|Ferry|Fields?|Flats?|Fords?|Forest|Forges?|Forks?|Fort|Freeway|Gardens?|Gateway|Glens?|Greens?|Groves?|Harbors?|Harbour|Haven|Heights|Highway|Hwy|Hills?|Hollow|Inlet|Islands?|Isle|Junctions?|Keys?|Knolls?|Lakes?|Land|Landing|Lane|Ln|Lights?|Loaf|Locks?|Lodge|Loop|Mall|Manors?|Meadows?|Mews|Mills?|Mission|Motorway|Mount|Mountains?|Neck|Orchard|Oval|Overpass|Parks?|Parkways?|Pkwy|Pass|Passage|Path|Pike|Pines?|Place|Pl|Plains?|Plaza|Points?|Ports?|Prairie|Radial|Ramp|Ranch|Rapids?|Rest|Ridges?|River|Roads?|Rd|Route|Row|Run|Shoals?|Shores?|Skyway|Springs?|Spurs?|Squares?|Sq|Station|Stravenue|Stream|Streets?|St|Summit|Terrace|Throughway|Trace|Track|Trafficway|Trail|Trailer|Tunnel|Turnpike|Underpass|Unions?|Valleys?|Viaduct|Views?|Villages?|Ville|Vista|Walks?|Wall|Ways?|Wells?|Close|Quay|Wharf|Esplanade|Gate|Hill|Wynd)';
const UNIT = "(?:Apt|Apartment|Suite|Ste|Unit|Flat|Bldg|Building)\\.?\\s?#?\\d{1,5}[A-Za-z]?";
const CONT_SUFFIX = '(?:straße|strasse|str\\.|gasse|weg|allee|platz|damm|gatan|vägen|gata|gården|katu|tie|kuja|polku|vej|gade|vænget|veien|vegen|vegur|stræti|utca|laan|straat|plein|gracht|kade|singel|steeg)';
const CONT_WORD = '(?:Straße|Strasse|Str\\.|Gasse|Weg|Allee|Platz|u\\.|utca|út|tér|ulica|ul\\.|straat|laan|gata|gatan|katu|vej|gade)';

const STREET_EN = new RegExp(`\\d(?<![\\w.:$€£]\\d)\\d{0,5}[A-Za-z]?(?: \\d{1,5})? (?![AaPp]\\.?[Mm]\\b)(?:(?:${CAP}|\\d{1,3}(?:st|nd|rd|th)) ){0,4}${STREET_TYPE}\\b\\.?(?: (?:N|S|E|W|NE|NW|SE|SW)\\b)?`, 'gu');
/** "Milánská 532, 35608 Libčice nad Vltavou", "Auf dem Hof 7a, 47508 Ludwigshafen": street, number, postcode, town. */
/** A town's word: no dots, so "Joensuu. Contact Nikolai" ends at the full stop. */
const TOWN_WORD = "\\p{Lu}[\\p{L}\\p{M}'’\\-]*";
const POSTCODE_ANCHOR = new RegExp(`\\d(?<![\\w.]\\d)\\d{0,4}[a-z]?, (?:\\d{3} ?\\d{2}|\\d{4}(?: ?[A-Z]{2})?) ${TOWN_WORD}(?: (?:\\p{Ll}{2,4} )?${TOWN_WORD}){0,3}`, 'gu');
/** The street words before a house number, matched at the end of a short look-back window. */
const STREET_WORDS_BEFORE = new RegExp(`(?:^|[^\\p{L}\\w])((?:${CAP} (?:(?:${CAP}|\\p{Ll}{2,4}) ){0,2})?${CAP} )$`, 'u');
/**
 * Continental streets run only over lines with a street word right before " <digit>": every match
 * holds one, and no match crosses a newline. The word is checked by looking back from each " <digit>".
 */
const CONT_HINTS = ['straße', 'strasse', 'str.', 'gasse', 'weg', 'allee', 'platz', 'damm', 'gatan', 'vägen', 'gata', 'gården', 'katu',
  'tie', 'kuja', 'polku', 'vej', 'gade', 'vænget', 'veien', 'vegen', 'vegur', 'stræti', 'utca', 'laan', 'straat', 'plein', 'gracht',
  'kade', 'singel', 'steeg', 'u.', 'út', 'tér', 'ulica', 'ul.'];
const CONT_HINT_BEFORE = new RegExp(`(?<=(?:${CONT_HINTS.map((w) => w.replace(/\./g, '\\.')).join('|')}))`, 'iy');
/**
 * The last characters of CONT_HINTS, A–Z folded: CONT_HINT_BEFORE can hold before a space only when
 * the character before that space is one of them. All are ASCII, and a case-insensitive search
 * without the u flag never folds a non-ASCII character to an ASCII one.
 */
const CONT_HINT_LAST = new Uint8Array(128);
for (const w of CONT_HINTS) {
  const c = w.charCodeAt(w.length - 1);
  if (c >= 128) throw new Error(`address: street hint "${w}" must end in an ASCII character`);
  CONT_HINT_LAST[c] = 1;
}
function mayEndContHint(c: number): boolean {
  return c < 128 && CONT_HINT_LAST[c >= 65 && c <= 90 ? c | 32 : c] === 1;
}
const STREET_CONT = new RegExp(`(?<![\\p{L}\\w])(?:\\d{1,6} )?(?:(?:Am|An der|Auf dem|Auf der|Im|In der|Zum|Zur|Alte|Alter|Neue|Neuer|Unter den) )?(?:\\p{Lu}[\\p{L}\\p{M}\\-]*${CONT_SUFFIX}|(?:${CAP} ){1,3}${CONT_WORD}) \\d{1,5}[a-z]?\\b\\.?`, 'gu');
/** "30102 Kaevu 94", "5850 Jana Nerudy 894": a number, one to three capitalised words, a house number. */
const NUMBER_WORDS_NUMBER = new RegExp(`(\\d(?<![\\w.,]\\d)\\d{2,5}) (?:${CAP} ){1,3}\\d{1,5}[a-z]?\\b\\.?`, 'gu');
const STREET_PREFIXED = new RegExp(`(?:Rue|Rua|Rúa|Via|Viale|Vicolo|Corso|Piazzale|Strada|Contrada|Calle|C/|Carrer|Avenida|Avda\\.|Av\\.|Piazza|Plaza|Plaça|Paseo|Passeig|Pasaje|Ronda|Rambla|Travesía|Camino|Carretera|Glorieta|Largo|Travessa|Ulica|ul\\.|Boulevard|Chemin|Allée|Place)(?: ${W}){1,4},? \\d{1,5}[a-z]?\\b`, 'gu');
/** French order, number first: "12 Rue de la Paix", "7 bis Quai des Orfèvres", "703 Voie de Paris". */
const FR_WORD = "(?:de|du|des|la|le|les|aux|au|sur|sous|en|et|(?:[ld][’'])?\\p{Lu}[\\p{L}\\p{M}'’\\-]*)";
const FR_STREET_WORDS = ['Rue', 'Voie', 'Quai', 'Avenue', 'Av.', 'Boulevard', 'Bd', 'Place', 'Impasse', 'Allée', 'Chemin', 'Route', 'Cours',
  'Passage', 'Square', 'Parvis', 'Esplanade', 'Promenade', 'Sentier', 'Cité', 'Faubourg', 'Villa', 'Hameau', 'Lieu-dit'];
const STREET_FR = new RegExp(`\\d(?<![\\w.:$€£]\\d)\\d{0,3}(?: ?(?:bis|ter|[A-Z]))?,? (?:${FR_STREET_WORDS.map((w) => w.replace('.', '\\.')).join('|')})(?: ${FR_WORD}){0,5} (?:[ld][’'])?\\p{Lu}[\\p{L}\\p{M}'’\\-]*`, 'gu');
const UNIT_ALONE = new RegExp(`${UNIT}\\b`, 'g');
const PO_BOX = /(?<![\w.])(?:P\.?\s?O\.?\s?Box|Post(?:al)?\s?(?:Office\s)?Box|Postbox|Postfach)\s#?\d{1,6}\b/gi;
const MILITARY = /(?<![\w.])(?:(?:PSC|CMR|Unit) \d{3,5},? Box \d{3,5}|USNS [\p{L}\-]+|USS [\p{L}\-]+|USCGC [\p{L}\-]+)\s*\n?\s*(?:APO|FPO|DPO) (?:AA|AE|AP) \d{5}/giu;
const CORNER = /\b(?:the )?corner of (?:[\p{L}\p{M}\d'’.\-]+ ){1,6}?and (?:\p{Lu}[\p{L}\p{M}'’.\-]*|\d+)(?: \p{Lu}[\p{L}\p{M}'’.\-]*| \d+\.?){0,4}/gu;
const CUE = /\b(?:address(?: is|:)|addr:|live at|lives at|living at|located at|reside at|resides at|ship(?:ping)? to|deliver(?:y)? to|mail(?:ing)? address|send it to|moved to|home address|billing address|postal address)\s*[:\-]?\s+/gi;
/** What may follow a street line: units, then a city line with region and postcode. */
/** UK postcodes: "LS6 2AB", "NW1 6XE", "SW1A 1AA", "EC1V 9HX". */
const UK_POSTCODE = '[A-Z]{1,2}\\d[A-Z\\d]? ?\\d[A-Z]{2}\\b';
/** A town word that is not the letters of a postcode ("LS" of "LS6"). */
const TOWN = `${CAP}(?![\\p{N}])`;
/** A continental town word: no dots, so "Joensuu. Contact Nikolai" stops at the full stop. */
const EU_TOWN = "\\p{Lu}[\\p{L}\\p{M}'’\\-]*(?![\\p{N}])";
/** Spanish floors and doors ("2º Dcha.", "3º B"). */
const FLOOR = "\\d{1,2}[º°ª](?: ?(?:[A-Z]\\b|Izda|Dcha|Izq|Der|Izquierda|Derecha)\\.?)?";
/** What may follow a street line: units, then a city line with region and postcode (US, UK), or postcode then town (continental Europe). */
const TAIL = new RegExp(
  `(?:,? (?:${UNIT}|${FLOOR}))*`
  + `(?:(?:,\\s*|\\n\\s*)(?:(?:${UNIT}|${FLOOR}),?\\s*\\n?\\s*)?(?:`
  + `(?:\\d{5}|\\d{4}|\\d{2}-\\d{3}|\\d{3} \\d{2}) ${EU_TOWN}(?: (?:am|an der|an|bei|de|del|di|sur|sul|im) ${EU_TOWN}| ${EU_TOWN}){0,3}(?: \\([A-Z]{2}\\))?`
  + `|(?:${TOWN}(?: ${TOWN}){0,3})(?:\\s*\\n?\\s*,\\s*(?:[A-Z]{2,3}(?![\\p{L}\\p{N}])|${TOWN}(?: ${TOWN}){0,2}))?(?:\\s*\\n?\\s*,?\\s*(?:(?:${TOWN}(?: ${TOWN}){0,2} )?\\d{4,5}(?:-\\d{4})?|${UK_POSTCODE}))?`
  + `))?`,
  'uy',
);
/** The town of a street held in the next SQL literal or CSV cell: `'Lindenstraße 12', '10115 Berlin'`. */
const NEXT_LITERAL_TOWN = new RegExp(`(['"]),\\s*\\1((?:\\d{5}|\\d{4}) ${EU_TOWN}(?: ${EU_TOWN}){0,3})\\1`, 'uy');

function pushExtended(text: string, start: number, end: number, score: number, detector: string, out: Finding[]): void {
  TAIL.lastIndex = end;
  const t = TAIL.exec(text);
  if (t && t[0].length > 0) end += t[0].length;
  while (end > start && /[\s,]/.test(text[end - 1]!)) end--;
  // A sentence's full stop is not part of the address; an abbreviation's ("St.", "Str.") is.
  if (text.charCodeAt(end - 1) === 46 && !/(?:^|[^\p{L}])\p{L}{1,3}\.$/u.test(text.slice(Math.max(start, end - 5), end))) end--;
  out.push({ class: 'ADDRESS', start, end, score, detector });
  const quote = text.charCodeAt(end);
  if (quote === 39 || quote === 34) {
    NEXT_LITERAL_TOWN.lastIndex = end;
    const n = NEXT_LITERAL_TOWN.exec(text);
    if (n) {
      const townStart = end + n[0].indexOf(n[2]!);
      out.push({ class: 'ADDRESS', start: townStart, end: townStart + n[2]!.length, score, detector });
    }
  }
}

function scanAll(re: RegExp, text: string, fn: (m: RegExpExecArray) => void): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0].length === 0) re.lastIndex++;
    else fn(m);
  }
}

const LETTER_OR_WORD = /[\p{L}\w]/u;
/** [\w.] */
function isWordOrDot(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46;
}
/** [\p{L}\w] for one code point. */
function isLetterOrWord(c: number): boolean {
  if (c < 128) return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
  return LETTER_OR_WORD.test(String.fromCodePoint(c));
}

/** Sticky forms of the number-led street rules: tried only at the start of a run of digits. */
const STREET_EN_AT = new RegExp(STREET_EN.source, 'uy');
const STREET_FR_AT = new RegExp(STREET_FR.source, 'uy');
const POSTCODE_ANCHOR_AT = new RegExp(POSTCODE_ANCHOR.source, 'uy');
const NUMBER_WORDS_NUMBER_AT = new RegExp(NUMBER_WORDS_NUMBER.source, 'uy');
/** Sticky forms of the word-led rules: tried only at word starts the shared index reports. */
const STREET_PREFIXED_AT = new RegExp(STREET_PREFIXED.source, 'uy');
const UNIT_AT = new RegExp(UNIT_ALONE.source, 'y');
const CUE_AT = new RegExp(CUE.source, 'iy');
const STREET_PREFIX_WORDS = keywordFamily(['Rue', 'Rua', 'Rúa', 'Via', 'Viale', 'Vicolo', 'Corso', 'Piazzale', 'Strada', 'Contrada',
  'Calle', 'C/', 'Carrer', 'Avenida', 'Avda.', 'Av.', 'Piazza', 'Plaza', 'Plaça', 'Paseo', 'Passeig', 'Pasaje', 'Ronda', 'Rambla',
  'Travesía', 'Camino', 'Carretera', 'Glorieta', 'Largo', 'Travessa', 'Ulica', 'ul.', 'Boulevard', 'Chemin', 'Allée', 'Place']);
const UNIT_WORDS = keywordFamily(['Apt', 'Apartment', 'Suite', 'Ste', 'Unit', 'Flat', 'Bldg', 'Building']);
/**
 * "corner": every CORNER match holds "corner of" at a word start ("\b(?:the )?corner"), which the
 * keyword search reports (no keyword that starts before it can span it), so the texts holding one
 * are known without searching each text for "corner of".
 */
const CORNER_WORDS = keywordFamily(['corner']);
function mayHoldCorner(text: string, view: TextView): boolean {
  const { positions, masks } = view.wordHits();
  for (let h = 0; h < positions.length; h++) {
    if ((masks[h]! & CORNER_WORDS) !== 0 && text.startsWith('corner of', positions[h]!)) return true;
  }
  return false;
}
const CUE_WORDS = keywordFamily(['address', 'addr', 'live', 'lives', 'living', 'located', 'reside', 'resides', 'ship', 'shipping',
  'deliver', 'delivery', 'mail', 'mailing', 'send', 'moved', 'home', 'billing', 'postal']);

/**
 * Where to cut the look-back window for STREET_WORDS_BEFORE: 64 characters before `end`, or later,
 * at the last character that cannot be inside the street words (not a letter, mark, space, '.',
 * '-', ' or ’; a surrogate may be half of a letter). The pattern matches the same there: it cannot start before that character, which
 * is not a capital, so the window's start (^) cannot begin the words there either.
 */
function streetWordsFrom(text: string, end: number): number {
  const from = Math.max(0, end - 64);
  for (let i = end - 1; i > from; i--) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdfff) continue; // half of a pair: may be a letter
    if (c < 128 ? !((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 32 || c === 46 || c === 45 || c === 39) : !STREET_WORD_CHAR.test(text[i]!)) return i;
  }
  return from;
}
const STREET_WORD_CHAR = /[\p{L}\p{M}’]/u;

/** ", <digit>" at `at`: a house number's comma before a postcode. */
function postcodeAfter(text: string, at: number): boolean {
  if (text.charCodeAt(at) !== 44 || text.charCodeAt(at + 1) !== 32) return false;
  const d = text.charCodeAt(at + 2);
  return d >= 48 && d <= 57;
}
function isAsciiLetterCode(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** A character that may start \p{Lu}: A–Z, or any non-ASCII code unit (checked by the pattern). */
function mayStartCapital(c: number): boolean {
  return (c >= 65 && c <= 90) || c >= 128;
}
/** What STREET_EN allows after the space behind the house number: a digit or a capital. */
function mayStartStreetWord(c: number): boolean {
  return (c >= 48 && c <= 57) || mayStartCapital(c);
}
/** First letters of STREET_FR's street words (all A–Z; STREET_FR is case-sensitive). */
const FR_STREET_FIRST = new Uint8Array(128);
for (const w of FR_STREET_WORDS) FR_STREET_FIRST[w.charCodeAt(0)] = 1;
/**
 * Whether STREET_FR can match from a house number ending at `e`: after the number come an optional
 * " bis", " ter" or letter (at most 4 characters), an optional ',', then a space and the street word,
 * so a space followed by one of the street words' first letters sits 1 to 6 characters after it.
 */
function mayHoldFrenchStreetWord(text: string, e: number): boolean {
  for (let w = e + 1; w <= e + 6; w++) {
    const c = text.charCodeAt(w);
    if (c < 128 && FR_STREET_FIRST[c] === 1 && text.charCodeAt(w - 1) === 32) return true;
  }
  return false;
}

/** What the walk over the digit runs holds back for later in the scan's order, and the military gate. */
interface RunLedRules {
  continental: Finding[];
  poBoxes: Finding[];
  military: boolean;
}

/**
 * One walk over the runs of digits for every rule anchored on them, each run's neighbours read once:
 *
 * - the street rules that start with a house number, tried at the run's start (every match of
 *   theirs starts there: their leading look-behind forbids a word character before the number),
 *   found into `out`;
 * - continental street lines (a street word before " <digit>"), PO boxes (before the run) and the
 *   military gate, which the scan reports after other rules: held in the result.
 *
 * Each rule keeps its own "next match starts after the last one" cursor, as a search of its own
 * (and before, a walk of its own) did, so each finds what it found alone.
 */
function scanRunLedRules(text: string, runs: readonly number[], out: Finding[]): RunLedRules {
  let enEnd = 0;
  let frEnd = 0;
  let postEnd = 0;
  let nwnEnd = 0;
  let lineEnd = -1;
  let poBoxFrom = 0;
  const held: RunLedRules = { continental: [], poBoxes: [], military: false };
  for (let k = 0; k < runs.length; k += 2) {
    const s = runs[k]!;
    const e = runs[k + 1]!;
    const len = e - s;
    const next = text.charCodeAt(e);
    // "12 Main St", "12B Main St", "12 3 Main St": digits, an optional letter, then a space.
    // After that space comes a digit (" 3", "3rd") or a capital (a street word); \p{Lu} may be non-ASCII.
    if (s >= enEnd && len <= 6 && (next === 32 || (isAsciiLetterCode(next) && text.charCodeAt(e + 1) === 32))
      && mayStartStreetWord(text.charCodeAt(next === 32 ? e + 1 : e + 2))) {
      STREET_EN_AT.lastIndex = s;
      const m = STREET_EN_AT.exec(text);
      if (m) {
        enEnd = s + m[0].length;
        pushExtended(text, s, enEnd, 0.85, 'rule:street', out);
      }
    }
    // "12 Rue de la Paix", "7 bis Quai …", "12, Rue …".
    if (s >= frEnd && len <= 4 && (next === 32 || next === 44 || (next >= 65 && next <= 90) || next === 98 || next === 116)
      && mayHoldFrenchStreetWord(text, e)) {
      STREET_FR_AT.lastIndex = s;
      const m = STREET_FR_AT.exec(text);
      if (m) {
        frEnd = s + m[0].length;
        pushExtended(text, s, frEnd, 0.8, 'rule:street', out);
      }
    }
    // "Milánská 532, 35608 Libčice": a house number, ", ", a postcode, a town.
    if (s >= postEnd && len <= 5 && postcodeAfter(text, next >= 97 && next <= 122 ? e + 1 : e)) {
      POSTCODE_ANCHOR_AT.lastIndex = s;
      const m = POSTCODE_ANCHOR_AT.exec(text);
      if (m) {
        postEnd = s + m[0].length;
        const words = STREET_WORDS_BEFORE.exec(text.slice(streetWordsFrom(text, s), s));
        if (words) out.push({ class: 'ADDRESS', start: s - words[1]!.length, end: postEnd, score: 0.8, detector: 'rule:street' });
      }
    }
    // "30102 Kaevu 94": a number of 3–6 digits, capitalised words, a house number.
    if (s >= nwnEnd && len >= 3 && len <= 6 && next === 32 && mayStartCapital(text.charCodeAt(e + 1))) {
      NUMBER_WORDS_NUMBER_AT.lastIndex = s;
      const m = NUMBER_WORDS_NUMBER_AT.exec(text);
      if (m) {
        nwnEnd = s + m[0].length;
        if (!/^(?:19|20)\d\d$/.test(m[1]!)) pushExtended(text, s, nwnEnd, 0.6, 'rule:street', out); // "2019 Python 3" is a year
      }
    }
    const before = text.charCodeAt(s - 1);
    // Continental streets: a street word before " <digit>", scanned over that line.
    if (before === 32 && s - 1 >= lineEnd && mayEndContHint(text.charCodeAt(s - 2))) {
      lineEnd = continentalLineAt(text, s - 1, lineEnd, held.continental);
    }
    if (len <= 6 && (before === 35 || isRegexSpace(before))) poBoxFrom = poBoxBefore(text, s, poBoxFrom, held.poBoxes);
    if (!held.military && len >= 5 && before === 32) held.military = militaryPostOfficeBefore(text, s);
  }
  return held;
}

/**
 * Continental streets on the line of the space at `space` when a street word ends right before it
 * (CONT_HINT_BEFORE): the line is scanned and the line's end returned (no later space on it is
 * tried), else `lineEnd` is returned as it was.
 */
function continentalLineAt(text: string, space: number, lineEnd: number, out: Finding[]): number {
  CONT_HINT_BEFORE.lastIndex = space;
  if (!CONT_HINT_BEFORE.test(text)) return lineEnd;
  const lineStart = text.lastIndexOf('\n', space) + 1;
  let end = text.indexOf('\n', space);
  if (end === -1) end = text.length;
  const line = text.slice(lineStart, end);
  scanAll(STREET_CONT, line, (m) => pushExtended(text, lineStart + m.index, lineStart + m.index + m[0].length, 0.8, 'rule:street', out));
  return end;
}

/** PO_BOX, sticky: tried only where a match can start (poBoxBefore). */
const PO_BOX_AT = new RegExp(PO_BOX.source, 'iy');
/**
 * PO_BOX's matches, as its global search finds them, without searching the text: each match ends in
 * "box" or "postfach" (any case; no non-ASCII character folds to those letters without the u flag),
 * one \s, an optional '#', then a whole run of at most 6 digits (\d{1,6}\b cannot stop inside a run).
 * The words before the number are 6 ("PO Box" and a \s, "POBox ") to 19 characters long ("Postal
 * Office Box" and a \s and a '#') and start with a 'p', so every match starts at a 'p' 6 to 19
 * characters before such a run. Called for each run of at most 6 digits in text order, it tries
 * those positions from `from` on in ascending order, each once, and returns where the next try
 * starts (after a match, as the global search does).
 */
function poBoxBefore(text: string, s: number, from: number, out: Finding[]): number {
  let i = s - 1;
  if (text.charCodeAt(i) === 35) i--; // '#'
  if (i < 1 || !isRegexSpace(text.charCodeAt(i))) return from;
  const c = text.charCodeAt(i - 1) | 32;
  if (c !== 120 && c !== 104) return from; // box, postfach
  let next = from;
  for (let p = Math.max(from, s - 19); p <= s - 6; p++) {
    next = p + 1;
    if ((text.charCodeAt(p) | 32) !== 112) continue; // p
    PO_BOX_AT.lastIndex = p;
    const m = PO_BOX_AT.exec(text);
    if (!m) continue;
    next = p + m[0].length;
    pushExtended(text, p, next, 0.85, 'rule:po_box', out);
    break;
  }
  return next;
}

/** Runs `re` (sticky) at each reported word start of `family`, skipping starts inside the last match. */
function scanWordLed(text: string, view: TextView, family: number, re: RegExp, glued: ((c: number) => boolean) | null,
  fn: (start: number, m: RegExpExecArray) => void): void {
  const { positions, masks } = view.wordHits();
  let last = 0;
  for (let h = 0; h < positions.length; h++) {
    if ((masks[h]! & family) === 0) continue;
    const at = positions[h]!;
    if (at < last) continue;
    if (glued && at > 0) {
      let before = text.charCodeAt(at - 1);
      if ((before & 0xfc00) === 0xdc00 && at >= 2) {
        const pair = text.codePointAt(at - 2)!;
        if (pair > 0xffff) before = pair;
      }
      if (glued(before)) continue;
    }
    re.lastIndex = at;
    const m = re.exec(text);
    if (!m || m[0].length === 0) continue;
    last = at + m[0].length;
    fn(at, m);
  }
}

/**
 * Whether MILITARY can match ending at the run from `s` (of 5 or more digits, after a space): each
 * match ends in "APO", "FPO" or "DPO", a space, "AA", "AE" or "AP", a space and five digits (any
 * case: MILITARY ignores case, and no non-ASCII character folds to these letters), so the text is
 * searched only when some run has them before it (four substring searches before).
 */
function militaryPostOfficeBefore(text: string, s: number): boolean {
  if (s < 7 || text.charCodeAt(s - 4) !== 32) return false;
  if ((text.charCodeAt(s - 3) | 32) !== 97) return false; // a
  const region = text.charCodeAt(s - 2) | 32;
  if (region !== 97 && region !== 101 && region !== 112) return false; // a, e, p
  const office = text.charCodeAt(s - 7) | 32;
  return (office === 97 || office === 102 || office === 100) && (text.charCodeAt(s - 6) | 32) === 112 && (text.charCodeAt(s - 5) | 32) === 111;
}

export const addressDetector: Detector = {
  name: 'address',
  classes: ['ADDRESS'],
  applies: (text, view?: TextView) => (view ? view.hasDigit || mayHoldCorner(text, view) : true),
  scan(text: string, out: Finding[], view: TextView = new TextView(text)): void {
    if (view.hasDigit) {
      // Street rules need a number: they start at a run of digits or at a street word the shared
      // index reports, never from a search of their own over the whole text.
      const held = scanRunLedRules(text, view.digitRuns(), out);
      for (const f of held.continental) out.push(f);
      scanWordLed(text, view, STREET_PREFIX_WORDS, STREET_PREFIXED_AT, isLetterOrWord, (at, m) => pushExtended(text, at, at + m[0].length, 0.8, 'rule:street', out));
      if (held.military) {
        scanAll(MILITARY, text, (m) => out.push({ class: 'ADDRESS', start: m.index, end: m.index + m[0].length, score: 0.95, detector: 'rule:military' }));
      }
      scanWordLed(text, view, UNIT_WORDS, UNIT_AT, isWordOrDot, (at, m) => out.push({ class: 'ADDRESS', start: at, end: at + m[0].length, score: 0.6, detector: 'rule:unit' }));
      for (const f of held.poBoxes) out.push(f);
      scanWordLed(text, view, CUE_WORDS, CUE_AT, null, (at, m) => {
        const start = at + m[0].length;
        let end = start;
        const limit = Math.min(text.length, start + 120);
        while (end < limit) {
          const c = text.charCodeAt(end);
          if (c === 10 || c === 13 || c === 63 || c === 33 || c === 59) break;
          if (c === 46 && (end + 1 >= text.length || text.charCodeAt(end + 1) === 32 || text.charCodeAt(end + 1) === 10)
            && !/\b(?:St|Ave|Av|Rd|Dr|Apt|Blvd|Ln|Ct|No|Nr|Str|Pl|Sq|Mt|Ft|[A-Z])$/.test(text.slice(Math.max(start, end - 5), end))) break;
          end++;
        }
        const value = text.slice(start, end);
        // "moved to 6:30 AM", "ship to v2.1", "deliver to 2026-03-01": a time, version or date, not a place.
        if (/^(?:\d{1,2}[:.]\d{2}|\d{1,2} ?[ap]\.?m\b|v?\d+\.\d+\.|\d{4}-\d{2}-\d{2}|[$€£])/i.test(value)) return;
        if (/\d/.test(value) && value.length >= 6) out.push({ class: 'ADDRESS', start, end, score: 0.8, detector: 'context:address' });
      });
    }
    if (mayHoldCorner(text, view)) {
      // The whole corner phrase outranks the street line inside it.
      scanAll(CORNER, text, (m) => out.push({ class: 'ADDRESS', start: m.index, end: m.index + m[0].length, score: 0.9, detector: 'rule:corner' }));
    }
  },
};
