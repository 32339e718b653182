import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detect } from '../../gateway/guard/detect.js';
import { registeredKeywords, TextView } from '../../gateway/guard/detectors/text-view.js';
import { isRegexSpace, shannonEntropy } from '../../gateway/guard/detectors/detector.js';

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

  it('the shared scan lists maximal digit runs and keyword word starts', () => {
    const view = new TextView('Ship to 12 Main St, pw 4711; xpassword 1 2-3');
    assert.deepEqual(view.digitRuns(), [8, 10, 23, 27, 39, 40, 41, 42, 43, 44]);
    const text = view.text;
    const words = view.wordHits().positions.map((at) => text.slice(at, at + 4));
    // "Ship" (an address cue) and "pw" start words; "password" inside "xpassword" does not.
    assert.ok(words.includes('Ship'));
    assert.ok(words.includes('pw 4'));
    assert.ok(!view.wordHits().positions.includes(text.indexOf('password')));
  });

  it('case-insensitive reads of the text find what lower-case reads of its lower-cased copy find', () => {
    // TextView.foldsLikeLower: for every character of the keywords and of the CSV header words, a
    // code point matches it under /i exactly when it lower-cases to it, "İ" and the Kelvin sign aside.
    const headerWords = 'full_name customer_name contact_name first_name last_name given_name family_name surname author assignee recipient patient employee person owner client "';
    const chars = [...new Set([...registeredKeywords().join(''), ...headerWords.replace(/ /g, '')])];
    const exact = chars.map((k) => new RegExp(`^${k.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'i'));
    for (let cp = 0; cp <= 0xffff; cp++) {
      if ((cp >= 0xd800 && cp < 0xe000) || cp === 0x130 || cp === 0x212a) continue;
      const c = String.fromCharCode(cp);
      const lower = c.toLowerCase();
      for (let k = 0; k < chars.length; k++) {
        if (exact[k]!.test(c) !== (lower === chars[k])) assert.fail(`U+${cp.toString(16)} against "${chars[k]}"`);
      }
    }
    // The two exceptions: a Kelvin sign reads from the lower-cased copy, an "İ" from the text itself.
    const kelvin = new TextView('my to\u212Aen is x');
    assert.equal(kelvin.foldsLikeLower, false);
    assert.ok(kelvin.wordHits().positions.includes(3));
    // CSV header words: any case from the text, any case from the copy (Kelvin sign), lower case only
    // when lower-casing changes the text's length ("İ"), as before the copy was dropped.
    const csv = (text: string) => detect(text).filter((f) => f.detector === 'csv:person').map((f) => text.slice(f.start, f.end));
    assert.deepEqual(csv('id,NAME,i\n1,Zork,2'), ['Zork']);
    assert.deepEqual(csv('id,NAME,\u212A\n1,Zork,2'), ['Zork']);
    assert.deepEqual(csv('id,name,İ\n1,Zork,2'), ['Zork']);
    assert.deepEqual(csv('id,NAME,İ\n1,Zork,2'), []);
  });

  it('"corner of" is looked for only at keyword hits, which no keyword can hide', () => {
    // A keyword spanning a word start that begins with "c" would hide "corner" from the search.
    for (const k of registeredKeywords()) assert.ok(!/[^A-Za-z0-9_]c/.test(k), k);
    // Likewise "BEGIN" of a PEM marker: only "d.o.b" holds a "b" after a non-word character, and
    // its ".o." cannot stand where the marker has "---".
    assert.deepEqual(registeredKeywords().filter((k) => /[^A-Za-z0-9_]b/.test(k)), ['d.o.b']);
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----';
    assert.deepEqual(found(`d.o.b 1990\nkey-${pem}`).filter((f) => f.startsWith('PRIVATE_KEY')), [`PRIVATE_KEY:${pem}`]);
    assert.deepEqual(found('Meet at the corner of Main and Elm Street.'), ['ADDRESS:the corner of Main and Elm Street.']);
    assert.deepEqual(found('key-corner of 5th and 7th'), ['ADDRESS:corner of 5th and 7']);
    assert.deepEqual(found('Meet at the Corner of Main and Elm.'), []);
  });

  it('\\s by code unit is the regular expression\'s \\s', () => {
    for (let c = 0; c <= 0xffff; c++) assert.equal(isRegexSpace(c), /\s/.test(String.fromCharCode(c)), `U+${c.toString(16)}`);
  });

  it('PO boxes are looked for only where a run of digits follows "box" or "postfach" and one space', () => {
    assert.deepEqual(found('Send it to PO Box 4711, Springfield.').filter((f) => f.startsWith('ADDRESS')), ['ADDRESS:PO Box 4711, Springfield']);
    assert.deepEqual(found('Postfach #12 bitte'), ['ADDRESS:Postfach #12']);
    assert.deepEqual(found('P.O. BOX\u00a0731'), ['ADDRESS:P.O. BOX\u00a0731']);
    assert.deepEqual(found('inbox 12 and Postfach12'), []);
  });

  it('number-led rules start at runs of digits, or at "+" and "(" before them', () => {
    assert.deepEqual(found('Call (555) 010-9999 or +44 20 7946 0958 today'), ['PHONE:(555) 010-9999', 'PHONE:+44 20 7946 0958']);
    assert.deepEqual(found('card 4111 1111 1111 1111, IBAN DE89 3704 0044 0532 0130 00'),
      ['CREDIT_CARD:4111 1111 1111 1111', 'IBAN:DE89 3704 0044 0532 0130 00']);
    assert.deepEqual(found('pay bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq now'), ['CRYPTO_WALLET:bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq']);
    assert.deepEqual(found('12B Main Street'), ['ADDRESS:12B Main Street']);
  });

  it('word-led rules start only at word starts; prefixes allowed inside a word are still found', () => {
    assert.deepEqual(found('xpassword is Hunter2!'), []);
    assert.deepEqual(found('İstanbul office: my password is Hunter2!'), ['PASSWORD:Hunter2!']);
    assert.deepEqual(found('born 1985-03-12'), ['DATE_OF_BIRTH:1985-03-12']);
    assert.deepEqual(found('unborn 1985-03-12'), []);
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
    assert.deepEqual(found(`Token ${jwt}`), [`JWT:${jwt}`]);
    assert.deepEqual(found(`x${jwt}`), []);
    const accountKey = 'A'.repeat(86) + '==';
    assert.deepEqual(found(`DefaultEndpointsProtocol=https;AccountName=x;AccountKey=${accountKey};`), [`API_KEY:${accountKey}`]);
  });
  it('IPv6 is tried only up to each colon, and still finds every address in text order', () => {
    assert.deepEqual(found('hosts: fe80::1ff:fe23:4567:890a and 2001:db8::8a2e:370:7334, 2001:db8::8a2e:370:7335'),
      ['IP_ADDRESS:fe80::1ff:fe23:4567:890a', 'IP_ADDRESS:2001:db8::8a2e:370:7334', 'IP_ADDRESS:2001:db8::8a2e:370:7335']);
    assert.deepEqual(found('addr=abcd:ef01:2345:6789:abcd:ef01:2345:6789;next=::ffff:1:2'),
      ['IP_ADDRESS:abcd:ef01:2345:6789:abcd:ef01:2345:6789', 'IP_ADDRESS:::ffff:1:2']);
    // Too many groups glued to a longer hex chain, clock times and C++ scopes are not addresses.
    assert.deepEqual(found('ab:cd:2001:db8:85a3:0:0:8a2e:370:7334'), []);
    assert.deepEqual(found('at 12:30:45 and std::cafe::beef'), []);
  });

  it('firm shapes gate the firm patterns without changing which names are firms', () => {
    assert.deepEqual(found('Skiles, Dach and Considine signed; Anna Schmidt, Ravi Patel and Lena Andersson came.'),
      ['PERSON:Anna Schmidt', 'PERSON:Ravi Patel', 'PERSON:Lena Andersson']);
    assert.deepEqual(found('Rolfson - Hettinger paid Maria Garcia - Lopez for the work.'), []);
  });

  it('camel-case and acronym words are plain words; Mc/Mac names are still names', () => {
    assert.deepEqual(found('Ask McKay and MacDonald about TextView, HTTP and JSONParser; Mary McKay agreed.'),
      ['PERSON:McKay', 'PERSON:MacDonald', 'PERSON:Mary McKay']);
  });

  it('entropy from the ASCII table equals the per-character count, non-ASCII included', () => {
    const reference = (v: string): number => {
      const counts = new Map<string, number>();
      for (const c of v) counts.set(c, (counts.get(c) ?? 0) + 1);
      let bits = 0;
      for (const n of counts.values()) bits -= (n / v.length) * Math.log2(n / v.length);
      return bits;
    };
    for (const v of ['aabb', 'abcd', 'Zx9_Qw8-Er7+Ty6/Ui5=', 'aé', 'xyzxyzé', 'aaaaaaaa']) assert.equal(shannonEntropy(v), reference(v), v);
    assert.equal(shannonEntropy('aabb'), 1);
    assert.equal(shannonEntropy('abcd'), 2);
  });
  it('gates read from digit runs, the separator list and keyword hits keep the searches\' edges (decision 0075)', () => {
    // A run of fewer than 7 digits is not tried when nothing after it can extend a match; "ext"
    // right after it can, and then that match covers the next run, which is not a phone on its own.
    assert.deepEqual(found('call 12345ext 123 4567 today'), []);
    assert.deepEqual(found('call 12345x 555 1234 today'), []);
    assert.deepEqual(found('call 555 1234 today'), ['PHONE:555 1234']);
    // APO/FPO/DPO in any case, read back from a run of five digits; four are not enough.
    assert.deepEqual(found('PSC 1234, Box 56789\napo ae 09012'), ['ADDRESS:PSC 1234, Box 56789\napo ae 09012']);
    assert.deepEqual(found('PSC 1234, Box 56789\nAPO AE 0901'), []);
    // Azure's "Q~" after a digit run (a "Q~" after a letter cannot match).
    assert.deepEqual(found('1234Q~abcdefghijklmnopqrstuvwxyz0123456789ab'), ['API_KEY:1234Q~abcdefghijklmnopqrstuvwxyz01234567']);
    assert.deepEqual(found('abcQ~abcdefghijklmnopqrstuvwxyz0123456789ab'), []);
    // ".com/" of a webhook from the "com/" keyword, after a keyword ending in "." too; the prefix is case-sensitive.
    const hook = 'hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX';
    assert.deepEqual(found(`sg.${hook}`), [`API_KEY:${hook}`]);
    assert.deepEqual(found(`x: https://${hook}`), [`API_KEY:${hook}`]);
    assert.deepEqual(found(hook.replace('.com/', '.COM/')), []);
    // A CSV header word ends at '"', ',' or a line break; "NAME" in quotes and CRLF lines still count.
    assert.deepEqual(found('ID,"NAME"\r\n1,"Anna Schmidt"\r\n'), ['PERSON:Anna Schmidt']);
    // URLs are looked for only when a ':' of the separator list is followed by "//".
    assert.deepEqual(found('db: postgres://app:s3cr3t-Pa55@db.internal:5432/app'), ['PASSWORD:s3cr3t-Pa55']);
  });

  it('patterns are not tried where the characters after a run or a word rule them out, and still match at their edges (decision 0081)', () => {
    // Phone: a short run reaches past itself over a separator and a digit, a "00" prefix's
    // separator and '(', or an extension.
    assert.deepEqual(found('Tel. 0049 (69) 1234 5678 bitte'), ['PHONE:0049 (69) 1234 5678']);
    assert.deepEqual(found('Tel. 0049-(69) 123 4567'), ['PHONE:0049-(69) 123 4567']);
    // French streets: the street word 1 to 6 characters after the number ("bis", a letter, ',').
    assert.deepEqual(found('Adresse: 12 bis Rue de la Paix, Paris'), ['ADDRESS:12 bis Rue de la Paix, Paris']);
    assert.deepEqual(found('au 7, Quai des Orfèvres'), ['ADDRESS:7, Quai des Orfèvres']);
    assert.deepEqual(found('au 12B Rue Lepic'), ['ADDRESS:12B Rue Lepic']);
    assert.deepEqual(found('12 Hameau des Bois'), ['ADDRESS:12 Hameau des Bois']);
    // English streets and "number words number": a digit or a capital (non-ASCII too) after the space.
    assert.deepEqual(found('Ship to 12 Élan Road'), ['ADDRESS:12 Élan Road']);
    assert.deepEqual(found('at 12 3rd Avenue'), ['ADDRESS:12 3rd Avenue']);
    assert.deepEqual(found('5850 Ödön Nerudy 894'), ['ADDRESS:5850 Ödön Nerudy 894']);
    // Continental hints end in an ASCII character, in any case; no non-ASCII character folds to one.
    assert.deepEqual(found('HAUPTSTRASSE 5, 10115 Berlin'), ['ADDRESS:HAUPTSTRASSE 5, 10115 Berlin']);
    assert.deepEqual(found('ul. Długa 5'), ['ADDRESS:ul. Długa 5']);
    assert.deepEqual(found('Andrássy út 12'), ['ADDRESS:Andrássy út 12']);
    for (const last of 'eg.zmnaujtril') {
      for (let c = 128; c <= 0xffff; c++) assert.equal(new RegExp(`\\${last}`, 'i').test(String.fromCharCode(c)), false, `U+${c.toString(16)} ~ ${last}`);
    }
    // PERSON: particles between words, firm suffixes after ", " or " ", greetings closed by , ! : or " -".
    assert.deepEqual(found('Mary van Dyke and Ludwig van Beethoven met Anna de la Cruz'),
      ['PERSON:Mary van Dyke', 'PERSON:Ludwig van Beethoven', 'PERSON:Anna de la Cruz']);
    assert.deepEqual(found('Paid Anna Smith, LLC and Anna Smith LLC and Harvey Group'), []);
    assert.deepEqual(found('Hi Onufry, Hello Delia! Hey Zed - ok'), ['PERSON:Onufry', 'PERSON:Delia', 'PERSON:Zed']);
    // Prose secrets: the value ends at any \s, the cue must not follow [\w.$-].
    assert.deepEqual(found('my password is Hunter2!x\u3000next'), ['PASSWORD:Hunter2!x']);
    assert.deepEqual(found('$password is Hunter2!x'), []);
    // Base58 from a run followed by a Base58 letter; SSNs need "dd" and the same separator again.
    assert.deepEqual(found('send 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy now'), ['CRYPTO_WALLET:3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy']);
    assert.deepEqual(found('SSN 123 45 6789'), ['US_SSN:123 45 6789']);
    assert.deepEqual(found('SSN 123-45 6789'), []);
    // IPv4 is four whole runs of 1–3 digits joined by single dots; IBANs start after no letter or digit.
    assert.deepEqual(found('at 203.0.113.255 and 198.51.100.7'), ['IP_ADDRESS:203.0.113.255', 'IP_ADDRESS:198.51.100.7']);
    assert.deepEqual(found('dns 8.8.4.4.5 ok, 1.22.333.4444'), []);
    assert.deepEqual(found('IBAN:DE89370400440532013000'), ['IBAN:DE89370400440532013000']);
    assert.deepEqual(found('xDE89370400440532013000'), []);
  });
});
