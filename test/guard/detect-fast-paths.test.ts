import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detect } from '../../gateway/guard/detect.js';

/**
 * The speed work in the detectors replaced whole-text scans with anchored ones (continental streets
 * scanned per hinted line, literal-led address rules checked for gluing after the match, names read
 * from a regex skip and a lower-cased copy of the text, assignments found by indexOf). These cases
 * pin the edges of those shortcuts: each would change if a shortcut dropped or added a match.
 */
function found(text: string): string[] {
  return detect(text).map((f) => `${f.class}:${text.slice(f.start, f.end)}`);
}

describe('detection shortcuts keep their results', () => {
  it('finds a continental street on a later line, not only the first hinted one', () => {
    assert.deepEqual(found('Lieferadresse bitte notieren.\nHauptstraße 5, 10115 Berlin'), ['ADDRESS:Hauptstraße 5, 10115 Berlin']);
    assert.deepEqual(found('Paket an Kungsgatan 12 i Stockholm, tack.'), ['ADDRESS:Kungsgatan 12']);
    assert.deepEqual(found('Weg 3 is a note.\nSee Bahnhofstraße 14'), ['ADDRESS:Bahnhofstraße 14']);
  });

  it('rejects literal-led street and unit rules glued to a letter before them', () => {
    assert.deepEqual(found('She lives on Rue de Rivoli 12 in Paris.'), ['ADDRESS:Rue de Rivoli 12']);
    assert.deepEqual(found('token xRue de Rivoli 12 here'), []);
    assert.deepEqual(found('Not xApt 4 or .Suite 5, only Apt 7.'), ['ADDRESS:Apt 7']);
  });

  it('reads capitalised Latin-1 and other non-ASCII names', () => {
    assert.deepEqual(found('Ólafur Arnalds and Ævar Þórsson met Zoë Kravitz.'),
      ['PERSON:Ólafur Arnalds', 'PERSON:Ævar Þórsson', 'PERSON:Zoë Kravitz']);
    assert.deepEqual(found('Signed by Ștefan Popescu'), ['PERSON:Ștefan Popescu']);
    assert.deepEqual(found('Contact: José Álvarez, Müller and Kowalczyk'),
      ['PERSON:José Álvarez', 'PERSON:Müller', 'PERSON:Kowalczyk']);
  });

  it('finds names when lower-casing changes the text length (İ)', () => {
    const text = 'İstanbul trip booked for Mary Smith and Peter Novak.';
    assert.notEqual(text.toLowerCase().length, text.length);
    assert.deepEqual(found(text), ['PERSON:Mary Smith', 'PERSON:Peter Novak']);
  });

  it('drops the possessive and keeps apostrophe surnames', () => {
    assert.deepEqual(found("Call Mary Smith's office."), ['PERSON:Mary Smith']);
  });

  it('skips "::" and "==" separators but still reads the next assignment', () => {
    assert.deepEqual(found('db::conn == other\napi_key=AbC123dEf456GhI789jKl0'), ['API_KEY:AbC123dEf456GhI789jKl0']);
    assert.deepEqual(found('STRIPE_TOKEN: tok9876abcdef'), ['API_KEY:tok9876abcdef']);
  });
});
