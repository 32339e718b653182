/**
 * ADDRESS: street lines by street-type words (English and continental forms), unit designators,
 * PO boxes, military addresses, "the corner of … and …", and whatever follows an address cue
 * ("Address:", "I live at", "ship to") up to the end of the line. A street line is extended over the
 * unit, city and postcode that follow it on the same or the next lines.
 */
import type { Finding } from '../types.js';
import { type Detector } from './detector.js';

const W = "[\\p{L}\\p{M}'’.\\-]+";
const CAP = "\\p{Lu}[\\p{L}\\p{M}'’.\\-]*";
/** USPS street suffixes (Publication 28, appendix C) and common abbreviations, plus British forms. */
const STREET_TYPE = '(?:Alley|Annex|Arcade|Avenue|Ave|Bayou|Beach|Bend|Bluffs?|Bottom|Boulevard|Blvd|Branch|Bridge|Brooks?|Burgs?|Bypass|Camp|Canyon|Cape|Causeway|Centers?|Circles?|Cir|Cliffs?|Club|Commons?|Corners?|Course|Courts?|Ct|Coves?|Creek|Crescent|Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|Drives?|Dr|Estates?|Expressway|Extensions?|Falls?|Ferry|Fields?|Flats?|Fords?|Forest|Forges?|Forks?|Fort|Freeway|Gardens?|Gateway|Glens?|Greens?|Groves?|Harbors?|Harbour|Haven|Heights|Highway|Hwy|Hills?|Hollow|Inlet|Islands?|Isle|Junctions?|Keys?|Knolls?|Lakes?|Land|Landing|Lane|Ln|Lights?|Loaf|Locks?|Lodge|Loop|Mall|Manors?|Meadows?|Mews|Mills?|Mission|Motorway|Mount|Mountains?|Neck|Orchard|Oval|Overpass|Parks?|Parkways?|Pkwy|Pass|Passage|Path|Pike|Pines?|Place|Pl|Plains?|Plaza|Points?|Ports?|Prairie|Radial|Ramp|Ranch|Rapids?|Rest|Ridges?|River|Roads?|Rd|Route|Row|Run|Shoals?|Shores?|Skyway|Springs?|Spurs?|Squares?|Sq|Station|Stravenue|Stream|Streets?|St|Summit|Terrace|Throughway|Trace|Track|Trafficway|Trail|Trailer|Tunnel|Turnpike|Underpass|Unions?|Valleys?|Viaduct|Views?|Villages?|Ville|Vista|Walks?|Wall|Ways?|Wells?|Close|Quay|Wharf|Esplanade|Gate|Hill|Wynd)';
const UNIT = "(?:Apt|Apartment|Suite|Ste|Unit|Flat|Bldg|Building)\\.?\\s?#?\\d{1,5}[A-Za-z]?";
const CONT_SUFFIX = '(?:straße|strasse|str\\.|gasse|weg|allee|platz|damm|gatan|vägen|gata|gården|katu|tie|kuja|polku|vej|gade|vænget|veien|vegen|vegur|stræti|utca|laan|straat|plein|gracht|kade|singel|steeg)';
const CONT_WORD = '(?:Straße|Strasse|Str\\.|Gasse|Weg|Allee|Platz|u\\.|utca|út|tér|ulica|ul\\.|straat|laan|gata|gatan|katu|vej|gade)';

const STREET_EN = new RegExp(`(?<![\\w.])\\d{1,6}[A-Za-z]?(?: \\d{1,5})? (?:(?:${CAP}|\\d{1,3}(?:st|nd|rd|th)) ){0,4}${STREET_TYPE}\\b\\.?(?: (?:N|S|E|W|NE|NW|SE|SW)\\b)?`, 'gu');
/** "Milánská 532, 35608 Libčice nad Vltavou", "Auf dem Hof 7a, 47508 Ludwigshafen": street, number, postcode, town. */
const POSTCODE_ANCHOR = new RegExp(`(?<![\\w.])\\d{1,5}[a-z]?, (?:\\d{3} ?\\d{2}|\\d{4}(?: ?[A-Z]{2})?) ${CAP}(?: (?:\\p{Ll}{2,4} )?${CAP}){0,3}`, 'gu');
/** The street words before a house number, matched at the end of a short look-back window. */
const STREET_WORDS_BEFORE = new RegExp(`(?:^|[^\\p{L}\\w])((?:(?:${CAP}|\\p{Ll}{2,4}) ){0,3}${CAP} )$`, 'u');
/** Only texts with a continental street word pay for the STREET_CONT scan. */
const CONT_HINT = /(?:straße|strasse|str\.|gasse|weg|allee|platz|damm|gatan|vägen|gata|gården|katu|tie|kuja|polku|vej|gade|vænget|veien|vegen|vegur|stræti|utca|laan|straat|plein|gracht|kade|singel|steeg|u\.|út|tér|ulica|ul\.) \d/i;
const STREET_CONT = new RegExp(`(?<![\\p{L}\\w])(?:\\d{1,6} )?(?:\\p{Lu}[\\p{L}\\p{M}\\-]*${CONT_SUFFIX}|(?:${CAP} ){1,3}${CONT_WORD}) \\d{1,5}[a-z]?\\b\\.?`, 'gu');
/** "30102 Kaevu 94", "5850 Jana Nerudy 894": a number, one to three capitalised words, a house number. */
const NUMBER_WORDS_NUMBER = new RegExp(`(?<![\\w.,])(\\d{3,6}) (?:${CAP} ){1,3}\\d{1,5}[a-z]?\\b\\.?`, 'gu');
const STREET_PREFIXED = new RegExp(`(?<![\\p{L}\\w])(?:Rue|Rua|Rúa|Via|Viale|Calle|Carrer|Avenida|Av\\.|Piazza|Plaza|Paseo|Largo|Travessa|Ulica|ul\\.|Boulevard|Chemin|Allée|Place)(?: ${W}){1,4} \\d{1,5}[a-z]?\\b`, 'gu');
const UNIT_ALONE = new RegExp(`(?<![\\w.])${UNIT}\\b`, 'g');
const PO_BOX = /(?<![\w.])(?:P\.?\s?O\.?\s?Box|Post(?:al)?\s?(?:Office\s)?Box|Postbox|Postfach)\s#?\d{1,6}\b/gi;
const MILITARY = /(?<![\w.])(?:(?:PSC|CMR|Unit) \d{3,5},? Box \d{3,5}|USNS [\p{L}\-]+|USS [\p{L}\-]+|USCGC [\p{L}\-]+)\s*\n?\s*(?:APO|FPO|DPO) (?:AA|AE|AP) \d{5}/giu;
const CORNER = /\b(?:the )?corner of (?:[\p{L}\p{M}\d'’.\-]+ ){1,6}?and (?:\p{Lu}[\p{L}\p{M}'’.\-]*|\d+)(?: \p{Lu}[\p{L}\p{M}'’.\-]*| \d+\.?){0,4}/gu;
const CUE = /\b(?:address(?: is|:)|addr:|live at|lives at|living at|located at|reside at|resides at|ship(?:ping)? to|deliver(?:y)? to|mail(?:ing)? address|send it to|moved to|home address|billing address|postal address)\s*[:\-]?\s+/gi;
/** What may follow a street line: units, then a city line with region and postcode. */
const TAIL = new RegExp(
  `(?:,? ${UNIT})*`
  + `(?:(?:,\\s*|\\n\\s*)(?:${UNIT}\\s*\\n?\\s*)?(?:${CAP}(?: ${CAP}){0,3})(?:\\s*\\n?\\s*,\\s*(?:[A-Z]{2,3}|${CAP}(?: ${CAP}){0,2}))?(?:\\s*\\n?\\s*,?\\s*(?:${CAP}(?: ${CAP}){0,2} )?\\d{4,5}(?:-\\d{4})?)?)?`,
  'uy',
);

function pushExtended(text: string, start: number, end: number, score: number, detector: string, out: Finding[]): void {
  TAIL.lastIndex = end;
  const t = TAIL.exec(text);
  if (t && t[0].length > 0) end += t[0].length;
  while (end > start && /[\s,]/.test(text[end - 1]!)) end--;
  out.push({ class: 'ADDRESS', start, end, score, detector });
}

function scanAll(re: RegExp, text: string, fn: (m: RegExpExecArray) => void): void {
  re.lastIndex = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m[0].length === 0) re.lastIndex++;
    else fn(m);
  }
}

export const addressDetector: Detector = {
  name: 'address',
  classes: ['ADDRESS'],
  applies: () => true,
  scan(text: string, out: Finding[]): void {
    const hasDigit = /\d/.test(text);
    if (hasDigit) {
      scanAll(STREET_EN, text, (m) => pushExtended(text, m.index, m.index + m[0].length, 0.85, 'rule:street', out));
      if (CONT_HINT.test(text)) scanAll(STREET_CONT, text, (m) => pushExtended(text, m.index, m.index + m[0].length, 0.8, 'rule:street', out));
      if (text.includes(', ')) {
        scanAll(POSTCODE_ANCHOR, text, (m) => {
          const words = STREET_WORDS_BEFORE.exec(text.slice(Math.max(0, m.index - 64), m.index));
          if (!words) return;
          const start = m.index - words[1]!.length;
          out.push({ class: 'ADDRESS', start, end: m.index + m[0].length, score: 0.8, detector: 'rule:street' });
        });
      }
      scanAll(NUMBER_WORDS_NUMBER, text, (m) => {
        if (/^(?:19|20)\d\d$/.test(m[1]!)) return; // "2019 Python 3" is a year, not a street
        pushExtended(text, m.index, m.index + m[0].length, 0.6, 'rule:street', out);
      });
      scanAll(STREET_PREFIXED, text, (m) => pushExtended(text, m.index, m.index + m[0].length, 0.75, 'rule:street', out));
      scanAll(UNIT_ALONE, text, (m) => out.push({ class: 'ADDRESS', start: m.index, end: m.index + m[0].length, score: 0.6, detector: 'rule:unit' }));
      if (/box|postfach/i.test(text)) scanAll(PO_BOX, text, (m) => pushExtended(text, m.index, m.index + m[0].length, 0.85, 'rule:po_box', out));
      if (/[ADF]PO /.test(text)) scanAll(MILITARY, text, (m) => out.push({ class: 'ADDRESS', start: m.index, end: m.index + m[0].length, score: 0.95, detector: 'rule:military' }));
      scanAll(CUE, text, (m) => {
        const start = m.index + m[0].length;
        let end = start;
        const limit = Math.min(text.length, start + 120);
        while (end < limit) {
          const c = text.charCodeAt(end);
          if (c === 10 || c === 13 || c === 63 || c === 33 || c === 59) break;
          if (c === 46 && (end + 1 >= text.length || text.charCodeAt(end + 1) === 32 || text.charCodeAt(end + 1) === 10)
            && !/\b[A-Z][a-z]{0,3}$/.test(text.slice(Math.max(start, end - 5), end))) break;
          end++;
        }
        const value = text.slice(start, end);
        if (/\d/.test(value) && value.length >= 6) out.push({ class: 'ADDRESS', start, end, score: 0.8, detector: 'context:address' });
      });
    }
    if (text.includes('corner of')) {
      scanAll(CORNER, text, (m) => out.push({ class: 'ADDRESS', start: m.index, end: m.index + m[0].length, score: 0.8, detector: 'rule:corner' }));
    }
  },
};
