/**
 * Issue #8, "Fail closed": one test per rule. Each input here leaked or was mislabelled before the
 * change; the values are synthetic (Luhn- and mod-97-valid where the class needs it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detect } from '../../gateway/guard/detect.js';

function found(text: string): Array<[string, string]> {
  return detect(text).map((f) => [f.class, text.slice(f.start, f.end)]);
}
function assertFinds(text: string, cls: string, value: string): void {
  assert.ok(found(text).some(([c, v]) => c === cls && v === value), `expected ${cls} ${JSON.stringify(value)} in ${JSON.stringify(text)}; got ${JSON.stringify(found(text))}`);
}
function assertNone(text: string, classes: readonly string[]): void {
  const hits = found(text).filter(([c]) => classes.includes(c));
  assert.deepEqual(hits, [], `expected no ${classes.join('/')} in ${JSON.stringify(text)}`);
}

describe('weak context never vetoes a checksum or structure match', () => {
  it('cards with Luhn and a network prefix and length, plain or printed 4-4-4-4 / 4-6-5, after invoice/order/ref/id', () => {
    for (const word of ['invoice', 'Invoice #', 'order', 'ref', 'ref:', 'id', 'transaction id', 'account']) {
      assertFinds(`${word} 4539578763621486 was declined`, 'CREDIT_CARD', '4539578763621486');
      assertFinds(`${word} 4539 5787 6362 1486 was declined`, 'CREDIT_CARD', '4539 5787 6362 1486');
      assertFinds(`${word} 5555-5555-5555-4444, thanks`, 'CREDIT_CARD', '5555-5555-5555-4444');
      assertFinds(`${word} 3782 822463 10005 please`, 'CREDIT_CARD', '3782 822463 10005');
      assertFinds(`${word}=6011111111111117`, 'CREDIT_CARD', '6011111111111117');
    }
  });
  it('IBAN, SSN, provider keys, JWTs and PEM blocks after the same words', () => {
    assertFinds('invoice ref DE89 3704 0044 0532 0130 00 paid', 'IBAN', 'DE89 3704 0044 0532 0130 00');
    assertFinds('customer id 123-45-6789 on file', 'US_SSN', '123-45-6789');
    assertFinds('order id ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789 leaked', 'API_KEY', 'ghp_aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789');
    const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
    assertFinds(`ref ${jwt}`, 'JWT', jwt);
    const pem = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----';
    assertFinds(`invoice id ${pem}`, 'PRIVATE_KEY', pem);
  });
});

describe('secrets', () => {
  it('in prose: "my password is", "password was", "pw:", "passphrase", "webhook secret"', () => {
    assertFinds('hey, my password is Tr0ub4dor&3. can you reset it?', 'PASSWORD', 'Tr0ub4dor&3');
    assertFinds('The old password was sunny#day42, I changed it.', 'PASSWORD', 'sunny#day42');
    assertFinds('ssid: guest-5g, pw: kx!82mQa\nsee you', 'PASSWORD', 'kx!82mQa');
    assertFinds('Backup passphrase correct-horse-battery-staple is in the safe.', 'PASSWORD', 'correct-horse-battery-staple');
    assertFinds('The webhook secret is "Qm9vbGVhbkZhY3Rvcnk5MjQ4", rotate it.', 'API_KEY', 'Qm9vbGVhbkZhY3Rvcnk5MjQ4');
  });
  it('does not take ordinary words after "password" for a password', () => {
    assertNone('The password is required and the password was changed yesterday; passphrase rules apply.', ['PASSWORD', 'API_KEY']);
  });
  it('in the userinfo of any URI scheme, with characters that are not URL-safe', () => {
    assertFinds('MONGO_URI=mongodb+srv://app:pa#ss^w0rd@cluster0.ab1cd.mongodb.net/prod', 'PASSWORD', 'pa#ss^w0rd');
    assertFinds('redis://:s3cr3t!*$@cache.acme-corp.io:6379/0', 'PASSWORD', 's3cr3t!*$');
    assertFinds('amqp://svc:Gu3st#2024@mq.acme-corp.io:5672/orders', 'PASSWORD', 'Gu3st#2024');
    assertFinds('postgres://app:h^llo$42@db.acme-corp.io:5432/app', 'PASSWORD', 'h^llo$42');
    assertFinds('git clone https://jdoe:esab!!16@git.oval-pulse.com/team/api.git', 'PASSWORD', 'esab!!16');
  });
  it('in URL query parameters named token, key, sig, secret, password, code and access_token', () => {
    const cases: Array<[string, string, string]> = [
      ['token', 'API_KEY', 'a8Fq2LmZ0pXw7TnB4sRc'], ['key', 'API_KEY', 'kkQ2b9xZr8LmN3pQ7wVt'], ['sig', 'API_KEY', 'Zm9vYmFyYmF6cXV4MTIz'],
      ['secret', 'API_KEY', '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b'], ['password', 'PASSWORD', 'hunter2!x'],
      ['code', 'API_KEY', '4/0AY0e-g7Xq9hLmN'], ['access_token', 'API_KEY', 'yaBqXn2Lm8Pq0ZrT4vWs'],
    ];
    for (const [param, cls, value] of cases) {
      assertFinds(`GET https://files.acme-corp.io/v1/export?${param}=${value}&page=2 returned 403`, cls, value);
    }
  });
  it('spans end where the value ends: no trailing period, quote or comma', () => {
    assertFinds('set DB_PASSWORD=Xk29fj2Lq. Then restart.', 'PASSWORD', 'Xk29fj2Lq');
    assertFinds('my password is "Xk29fj2Lq", ok?', 'PASSWORD', 'Xk29fj2Lq');
    assertFinds('the pw: Xk29fj2Lq, then 2FA', 'PASSWORD', 'Xk29fj2Lq');
    assertFinds('see https://www.jane-doe.dev/about.', 'URL', 'https://www.jane-doe.dev/about');
    assertFinds('card 4539578763621486.', 'CREDIT_CARD', '4539578763621486');
  });
});

describe('times, versions, hashes, UUIDs, timestamps and prices', () => {
  it('are never ADDRESS, PHONE or CREDIT_CARD', () => {
    const texts = [
      'Standup moved to 6:30 AM; the call at 10:45 PM Street team sync stays.',
      'Released 12.27.24 and 2026.1.15; node v20.11.1, build 1.2.3.4567',
      'commit 4e1243bd22c66e76c2ba9eddc1f91394e57f9f83 and dcdd599b6fd2 reverted',
      'request c7ee3b0b-1cdf-4b47-8ac3-b84abdb20e52 failed; trace 550e8400-e29b-41d4-a716-446655440000',
      'at 2025-03-23T07:47:56.737Z and 2025-03-23 07:47:56 and 1742716076737 and 20250323074756',
      'total £8,564.01, $1,299.00, €4 500,00, USD 12,345,678.90 across 1476 orders',
    ];
    for (const t of texts) assertNone(t, ['ADDRESS', 'PHONE', 'CREDIT_CARD']);
  });
});

describe('addresses outside the US', () => {
  it('UK with postcodes', () => {
    assertFinds('Please send it to 14 Kingsley Road, Leeds LS6 2AB.', 'ADDRESS', '14 Kingsley Road, Leeds LS6 2AB');
    assertFinds('office: 221B Baker Street, London NW1 6XE', 'ADDRESS', '221B Baker Street, London NW1 6XE');
  });
  it('France: Rue, Voie, Quai and a 5-digit postcode', () => {
    assertFinds('Livraison au 12 Rue de la Paix, 75002 Paris.', 'ADDRESS', '12 Rue de la Paix, 75002 Paris');
    assertFinds('chez nous: 7 bis Quai des Orfèvres, 75001 Paris', 'ADDRESS', '7 bis Quai des Orfèvres, 75001 Paris');
    assertFinds('adresse 703 Voie de Paris, 73451 Calais', 'ADDRESS', '703 Voie de Paris, 73451 Calais');
  });
  it('Germany: …straße 12, 10115 Berlin', () => {
    assertFinds('bitte an Lindenstraße 12, 10115 Berlin senden', 'ADDRESS', 'Lindenstraße 12, 10115 Berlin');
    assertFinds('Am Lindenplatz 4, 80331 München', 'ADDRESS', 'Am Lindenplatz 4, 80331 München');
  });
  it('Spain and Italy', () => {
    assertFinds('Our office: Calle de Alcalá, 42, 28014 Madrid.', 'ADDRESS', 'Calle de Alcalá, 42, 28014 Madrid');
    assertFinds('Our office: C/ Goya, 150, 2º Dcha., 28001 Madrid', 'ADDRESS', 'C/ Goya, 150, 2º Dcha., 28001 Madrid');
    assertFinds('Spedire a Via Giuseppe Verdi 12, 00184 Roma (RM) entro lunedì', 'ADDRESS', 'Via Giuseppe Verdi 12, 00184 Roma (RM)');
    assertFinds('Corso Vittorio Emanuele II 81, 10128 Torino', 'ADDRESS', 'Corso Vittorio Emanuele II 81, 10128 Torino');
  });
  it('in CSV cells and SQL literals', () => {
    assertFinds('1042,Marie Dupont,"12 Rue des Lilas, 69003 Lyon",FR', 'ADDRESS', '12 Rue des Lilas, 69003 Lyon');
    const sql = "INSERT INTO customers (name, street, city) VALUES ('Hans Müller', 'Lindenstraße 12', '10115 Berlin');";
    assertFinds(sql, 'ADDRESS', 'Lindenstraße 12');
    assertFinds(sql, 'ADDRESS', '10115 Berlin');
  });
});

describe('PERSON', () => {
  it('a first name alone as a chat speaker or after a greeting', () => {
    assertFinds('Delia: did the deploy go out?\nMarco: yes, at 6:30 PM\nDelia: great', 'PERSON', 'Delia');
    assertFinds('Delia: did the deploy go out?\nMarco: yes, at 6:30 PM\nDelia: great', 'PERSON', 'Marco');
    assertFinds('[09:14] Edgardo: the build is green', 'PERSON', 'Edgardo');
    assertFinds('Hi Delia,\n\nthe report is attached.', 'PERSON', 'Delia');
    assertFinds('Hello Onufry, thanks for the review!', 'PERSON', 'Onufry');
  });
  it('names after a "Customer:" label and in a CSV name column', () => {
    assertFinds('Ticket 42\nCustomer: Gabin Moulin <g.m@mail.fr>', 'PERSON', 'Gabin Moulin');
    const csv = 'id,full_name,email\n1,Lonzo Toy,lt@corp.io\n2,"Jano Banse",jb@corp.io\n';
    assertFinds(csv, 'PERSON', 'Lonzo Toy');
    assertFinds(csv, 'PERSON', 'Jano Banse');
  });
  it('firms named after people, countries, cities and salutations are not', () => {
    assertNone('Rolfson - Hettinger signed with Skiles, Dach and Considine and with Boyle - Lesch-Pouros.', ['PERSON']);
    assertNone('Micco-Sforza SPA, Weber, Kasten und Matschke and Harvey Group renewed; Kub, Lehner and Fritsch did not.', ['PERSON']);
    assertNone('The kickoff is in Oman, then Palo Alto, Lisbon and Nairobi.', ['PERSON']);
    assertNone('Sehr geehrte Damen und Herren,\n\nanbei die Rechnung.', ['PERSON']);
  });
  it('a legal form after a name makes it a firm, whatever the country', () => {
    assertNone('Brandt UG and Kowalski KGaA renewed the contract.', ['PERSON']);
    assertNone('Lindqvist AB and Haugen AS signed.', ['PERSON']);
  });
  it('a word listed beside a firm is not made a person by the firm', () => {
    assertNone('Okafor-Lindqvist and Brennan LLP signed the lease.', ['PERSON']);
    assertNone('Weber, Kasten und Matschke and Oduya-Brandt signed.', ['PERSON']);
    // Listed beside people, the same word is one.
    assertFinds('Okafor-Lindqvist and Brennan met Anna Weber.', 'PERSON', 'Okafor-Lindqvist');
  });
});
