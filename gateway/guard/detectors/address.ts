/**
 * ADDRESS: street lines by street-type words (English and continental forms), unit designators,
 * PO boxes, military addresses, "the corner of … and …", and whatever follows an address cue
 * ("Address:", "I live at", "ship to") up to the end of the line. A street line is extended over the
 * unit, city and postcode that follow it on the same or the next lines.
 */
import type { Finding } from '../types.js';
import type { TextView } from './text-view.js';
import { type Detector } from './detector.js';

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
 * STREET_CONT runs only over lines with a continental street word before " <digit>": every match
 * holds one, and no match crosses a newline. The hint is checked by looking back from each
 * " <digit>" (rare) instead of trying the alternation at every position.
 */
const SPACE_DIGIT = / \d/g;
const CONT_HINT_BEFORE = /(?<=(?:straße|strasse|str\.|gasse|weg|allee|platz|damm|gatan|vägen|gata|gården|katu|tie|kuja|polku|vej|gade|vænget|veien|vegen|vegur|stræti|utca|laan|straat|plein|gracht|kade|singel|steeg|u\.|út|tér|ulica|ul\.))/iy;
function scanContinentalStreets(text: string, out: Finding[], full: string, offset: number): void {
  let lineEnd = -1;
  SPACE_DIGIT.lastIndex = 0;
  for (let m = SPACE_DIGIT.exec(text); m !== null; m = SPACE_DIGIT.exec(text)) {
    if (m.index < lineEnd) continue; // this line was scanned already
    CONT_HINT_BEFORE.lastIndex = m.index;
    if (!CONT_HINT_BEFORE.test(text)) continue;
    const lineStart = text.lastIndexOf('\n', m.index) + 1;
    lineEnd = text.indexOf('\n', m.index);
    if (lineEnd === -1) lineEnd = text.length;
    // Scanning the line alone is exact: its edges ('\n' or the text's ends) satisfy the
    // pattern's leading lookbehind and trailing \b the same way.
    const line = text.slice(lineStart, lineEnd);
    const at = offset + lineStart;
    scanAll(STREET_CONT, line, (s) => pushExtended(full, at + s.index, at + s.index + s[0].length, 0.8, 'rule:street', out));
    SPACE_DIGIT.lastIndex = lineEnd;
  }
}
/** "12 Main", "Via Roma 12", "Apt #4", "Goya, 150": a digit beside a space, tab, comma or '#'. */
const STREET_GATE = /\d[ \t,]|[ \t#]\d/g;
/**
 * Line-aligned windows holding every line with a STREET_GATE hit plus the lines before and after it, merged.
 * Windows start and end at line breaks, so lookarounds at their edges read as they do in the text.
 */
function streetWindows(text: string): Array<[number, number]> {
  const windows: Array<[number, number]> = [];
  STREET_GATE.lastIndex = 0;
  for (let m = STREET_GATE.exec(text); m !== null; m = STREET_GATE.exec(text)) {
    // From the line before (a military address puts its unit there) to the line after.
    const lineStart = text.lastIndexOf('\n', m.index) + 1;
    const from = lineStart === 0 ? 0 : text.lastIndexOf('\n', lineStart - 2) + 1;
    let to = text.indexOf('\n', m.index + 1);
    to = to === -1 ? text.length : text.indexOf('\n', to + 1);
    if (to === -1) to = text.length;
    const last = windows[windows.length - 1];
    if (last && from <= last[1] + 1) last[1] = Math.max(last[1], to);
    else windows.push([from, to]);
    // The next hit that can open a new window is on the line after this one.
    const nextLine = text.indexOf('\n', m.index + 1);
    STREET_GATE.lastIndex = nextLine === -1 ? text.length : nextLine + 1;
  }
  return windows;
}
/** A street line ends in "<digits>[a-z]?, <digit>" before a postcode; most texts have none. */
const POSTCODE_HINT = /\d[a-z]?, \d/;
const STREET_CONT = new RegExp(`(?<![\\p{L}\\w])(?:\\d{1,6} )?(?:(?:Am|An der|Auf dem|Auf der|Im|In der|Zum|Zur|Alte|Alter|Neue|Neuer|Unter den) )?(?:\\p{Lu}[\\p{L}\\p{M}\\-]*${CONT_SUFFIX}|(?:${CAP} ){1,3}${CONT_WORD}) \\d{1,5}[a-z]?\\b\\.?`, 'gu');
/** "30102 Kaevu 94", "5850 Jana Nerudy 894": a number, one to three capitalised words, a house number. */
const NUMBER_WORDS_NUMBER = new RegExp(`(\\d(?<![\\w.,]\\d)\\d{2,5}) (?:${CAP} ){1,3}\\d{1,5}[a-z]?\\b\\.?`, 'gu');
const STREET_PREFIXED = new RegExp(`(?:Rue|Rua|Rúa|Via|Viale|Vicolo|Corso|Piazzale|Strada|Contrada|Calle|C/|Carrer|Avenida|Avda\\.|Av\\.|Piazza|Plaza|Plaça|Paseo|Passeig|Pasaje|Ronda|Rambla|Travesía|Camino|Carretera|Glorieta|Largo|Travessa|Ulica|ul\\.|Boulevard|Chemin|Allée|Place)(?: ${W}){1,4},? \\d{1,5}[a-z]?\\b`, 'gu');
/** French order, number first: "12 Rue de la Paix", "7 bis Quai des Orfèvres", "703 Voie de Paris". */
const FR_WORD = "(?:de|du|des|la|le|les|aux|au|sur|sous|en|et|(?:[ld][’'])?\\p{Lu}[\\p{L}\\p{M}'’\\-]*)";
const STREET_FR = new RegExp(`\\d(?<![\\w.:$€£]\\d)\\d{0,3}(?: ?(?:bis|ter|[A-Z]))?,? (?:Rue|Voie|Quai|Avenue|Av\\.|Boulevard|Bd|Place|Impasse|Allée|Chemin|Route|Cours|Passage|Square|Parvis|Esplanade|Promenade|Sentier|Cité|Faubourg|Villa|Hameau|Lieu-dit)(?: ${FR_WORD}){0,5} (?:[ld][’'])?\\p{Lu}[\\p{L}\\p{M}'’\\-]*`, 'gu');
const UNIT_ALONE = new RegExp(`${UNIT}\\b`, 'g');
const PO_BOX = /(?<![\w.])(?:P\.?\s?O\.?\s?Box|Post(?:al)?\s?(?:Office\s)?Box|Postbox|Postfach)\s#?\d{1,6}\b/gi;
const MILITARY = /(?<![\w.])(?:(?:PSC|CMR|Unit) \d{3,5},? Box \d{3,5}|USNS [\p{L}\-]+|USS [\p{L}\-]+|USCGC [\p{L}\-]+)\s*\n?\s*(?:APO|FPO|DPO) (?:AA|AE|AP) \d{5}/giu;
const CORNER = /\b(?:the )?corner of (?:[\p{L}\p{M}\d'’.\-]+ ){1,6}?and (?:\p{Lu}[\p{L}\p{M}'’.\-]*|\d+)(?: \p{Lu}[\p{L}\p{M}'’.\-]*| \d+\.?){0,4}/gu;
const CUE = /\b(?:address(?: is|:)|addr:|live at|lives at|living at|located at|reside at|resides at|ship(?:ping)? to|deliver(?:y)? to|mail(?:ing)? address|send it to|moved to|home address|billing address|postal address)\s*[:\-]?\s+/gi;
const CUE_LOWER = /\b(?:address(?: is|:)|addr:|live at|lives at|living at|located at|reside at|resides at|ship(?:ping)? to|deliver(?:y)? to|mail(?:ing)? address|send it to|moved to|home address|billing address|postal address)\s*[:\-]?\s+/g;
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

/**
 * scanAll for patterns that start with a literal word: the "not glued to the previous character"
 * test runs after a match instead of as a leading lookbehind, which would be tried at every
 * position. A rejected match resumes one character later, exactly where a lookbehind would.
 */
function scanAllUnglued(re: RegExp, text: string, glued: (c: number) => boolean, fn: (m: RegExpExecArray) => void): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    // codePointAt on a low surrogate's pair start, so an astral letter before counts as a letter.
    let before = m.index === 0 ? -1 : text.charCodeAt(m.index - 1);
    if ((before & 0xfc00) === 0xdc00 && m.index >= 2) {
      const pair = text.codePointAt(m.index - 2)!;
      if (pair > 0xffff) before = pair;
    }
    if (before !== -1 && glued(before)) re.lastIndex = m.index + 1;
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

export const addressDetector: Detector = {
  name: 'address',
  classes: ['ADDRESS'],
  applies: (text, view?: TextView) => (view ? view.hasDigit || text.includes('corner of') : true),
  scan(text: string, out: Finding[], view?: TextView): void {
    const hasDigit = view ? view.hasDigit : /\d/.test(text);
    if (hasDigit) {
      // Street patterns need a number next to a space ("12 Main", "Via Roma 12", "Apt #4"): they run only
      // on the lines that have one (and the line after, for two-line forms), not over the whole text.
      for (const [from, to] of streetWindows(text)) {
        const w = text.slice(from, to);
        const at = (fn: (m: RegExpExecArray) => void) => (m: RegExpExecArray) => {
          m.index += from;
          fn(m);
        };
        scanAll(STREET_EN, w, at((m) => pushExtended(text, m.index, m.index + m[0].length, 0.85, 'rule:street', out)));
        scanContinentalStreets(w, out, text, from);
        if (POSTCODE_HINT.test(w)) {
          scanAll(POSTCODE_ANCHOR, w, at((m) => {
            const words = STREET_WORDS_BEFORE.exec(text.slice(Math.max(from, m.index - 64), m.index));
            if (!words) return;
            const start = m.index - words[1]!.length;
            out.push({ class: 'ADDRESS', start, end: m.index + m[0].length, score: 0.8, detector: 'rule:street' });
          }));
        }
        scanAll(NUMBER_WORDS_NUMBER, w, at((m) => {
          if (/^(?:19|20)\d\d$/.test(m[1]!)) return; // "2019 Python 3" is a year, not a street
          pushExtended(text, m.index, m.index + m[0].length, 0.6, 'rule:street', out);
        }));
        scanAllUnglued(STREET_PREFIXED, w, isLetterOrWord, at((m) => pushExtended(text, m.index, m.index + m[0].length, 0.8, 'rule:street', out)));
        scanAll(STREET_FR, w, at((m) => pushExtended(text, m.index, m.index + m[0].length, 0.8, 'rule:street', out)));
        if (/[ADF]PO /.test(w)) scanAll(MILITARY, w, at((m) => out.push({ class: 'ADDRESS', start: m.index, end: m.index + m[0].length, score: 0.95, detector: 'rule:military' })));
      }
      scanAllUnglued(UNIT_ALONE, text, isWordOrDot, (m) => out.push({ class: 'ADDRESS', start: m.index, end: m.index + m[0].length, score: 0.6, detector: 'rule:unit' }));
      const lower = view ? view.lower() : text.toLowerCase();
      if (lower.includes('box') || lower.includes('postfach')) scanAll(PO_BOX, text, (m) => pushExtended(text, m.index, m.index + m[0].length, 0.85, 'rule:po_box', out));
      // The cue pass reads the lower-cased text (a case-sensitive pass is cheaper); offsets match when
      // lower-casing kept the length, else the case-insensitive pattern reads the text itself.
      const sameLength = lower.length === text.length;
      scanAll(sameLength ? CUE_LOWER : CUE, sameLength ? lower : text, (m) => {
        const start = m.index + m[0].length;
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
    if (text.includes('corner of')) {
      // The whole corner phrase outranks the street line inside it.
      scanAll(CORNER, text, (m) => out.push({ class: 'ADDRESS', start: m.index, end: m.index + m[0].length, score: 0.9, detector: 'rule:corner' }));
    }
  },
};
