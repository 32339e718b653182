import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { detect } from '../../gateway/guard/detect.js';

/** The [class, value] pairs detect() reports for a text. */
function found(text: string): Array<[string, string]> {
  return detect(text).map((f) => [f.class, text.slice(f.start, f.end)]);
}
function classesIn(text: string): string[] {
  return detect(text).map((f) => f.class);
}
function assertFinds(text: string, cls: string, value: string): void {
  assert.ok(found(text).some(([c, v]) => c === cls && v === value), `expected ${cls} "${value}" in ${JSON.stringify(text)}; got ${JSON.stringify(found(text))}`);
}
function assertNothing(text: string, cls?: string): void {
  const hits = found(text).filter(([c]) => cls === undefined || c === cls);
  assert.deepEqual(hits, [], `expected no ${cls ?? 'finding'} in ${JSON.stringify(text)}`);
}

describe('EMAIL', () => {
  it('finds addresses in prose, angle brackets and CSV', () => {
    assertFinds('mail me at jane.doe+billing@acme-corp.io today', 'EMAIL', 'jane.doe+billing@acme-corp.io');
    assertFinds('From: Jane <j.smith@mail.co.uk>', 'EMAIL', 'j.smith@mail.co.uk');
    assertFinds('1,x,bob_99@gmail.com,2', 'EMAIL', 'bob_99@gmail.com');
  });
  it('ignores documentation domains, ssh remotes, retina assets and package specs', () => {
    assertNothing('contact admin@example.com or ops@example.org or dev@test.example', 'EMAIL');
    assertNothing('git clone git@github.com:acme/app.git', 'EMAIL');
    assertNothing('<img src="logo@2x.png"> npm i lodash@4.17.21 @types/node', 'EMAIL');
  });
  it('leaves URL userinfo to the URL detector', () => {
    assert.deepEqual(classesIn('postgres://app:s3cretPass@db.acme-corp.io:5432/app'), ['PASSWORD']);
  });
});

describe('PHONE', () => {
  it('finds international, national and NANP numbers, with extensions', () => {
    assertFinds('call +44 7700 900123 now', 'PHONE', '+44 7700 900123');
    assertFinds('Phone: (415) 555-0132 ext. 12', 'PHONE', '(415) 555-0132 ext. 12');
    assertFinds('reach me on 030 1234 5678.', 'PHONE', '030 1234 5678');
    assertFinds('Fax: 4155550132', 'PHONE', '4155550132');
    assertFinds('+41 (0)69 979 80 58-Office', 'PHONE', '+41 (0)69 979 80 58');
  });
  it('ignores dates, versions, amounts, ids and order numbers', () => {
    assertNothing('released 2024-01-15 10:22 as version 10.0.19041.1234', 'PHONE');
    assertNothing('total 1,234,567 rows; order 555-123-4567 shipped', 'PHONE');
    assertNothing('user_id=4155550132 pid=12345', 'PHONE');
    assertNothing('+1 555 12', 'PHONE');
    assertNothing("migration '20261125-10' and build 20240131-2", 'PHONE');
  });
});

describe('CREDIT_CARD', () => {
  it('finds Luhn-valid card numbers, plain, spaced and dashed', () => {
    assertFinds('card 4111 1111 1111 1111 declined', 'CREDIT_CARD', '4111 1111 1111 1111');
    assertFinds('pay with 5500-0000-0000-0004', 'CREDIT_CARD', '5500-0000-0000-0004');
    assertFinds('amex 378282246310005', 'CREDIT_CARD', '378282246310005');
  });
  it('ignores Luhn-invalid runs, epoch milliseconds and other keys\' values', () => {
    assertNothing('card 4111 1111 1111 1112', 'CREDIT_CARD');
    assertNothing('started=1700000000007 ts 1794930857431', 'CREDIT_CARD');
    assertNothing('bytes=345253734759 order 4111111111111112', 'CREDIT_CARD');
  });
});

describe('IBAN', () => {
  it('finds compact and printed IBANs, any case, checked by mod-97', () => {
    assertFinds('IBAN DE89370400440532013000 please', 'IBAN', 'DE89370400440532013000');
    assertFinds('to GB82 WEST 1234 5698 7654 32.', 'IBAN', 'GB82 WEST 1234 5698 7654 32');
    assertFinds('iban gb82west12345698765432', 'IBAN', 'gb82west12345698765432');
  });
  it('rejects a wrong check digit and an unknown country', () => {
    assertNothing('DE88370400440532013000', 'IBAN');
    assertNothing('ZZ89370400440532013000', 'IBAN');
  });
});

describe('US_SSN', () => {
  it('finds dashed SSNs and bare ones after a context word', () => {
    assertFinds('SSN 123-45-6789', 'US_SSN', '123-45-6789');
    assertFinds('my social security number is 123456789', 'US_SSN', '123456789');
  });
  it('applies the SSA area/group/serial rules', () => {
    assertNothing('000-12-3456 666-12-3456 912-12-3456 123-00-4567 123-45-0000', 'US_SSN');
    assertNothing('ref 123456789', 'US_SSN');
  });
});

describe('IP_ADDRESS', () => {
  it('finds IPv4 and IPv6', () => {
    assertFinds('blocked 203.0.113.77 twice', 'IP_ADDRESS', '203.0.113.77');
    assertFinds('from 2001:db8:85a3::8a2e:370:7334 at noon', 'IP_ADDRESS', '2001:db8:85a3::8a2e:370:7334');
  });
  it('ignores loopback, masks, versions, times and C++ scopes', () => {
    assertNothing('listening on 127.0.0.1 and 0.0.0.0 mask 255.255.255.0', 'IP_ADDRESS');
    assertNothing('version=5.4.18.2 node v18.17.1.0 at 12:30:45 std::vector ::1', 'IP_ADDRESS');
    assertNothing('999.1.1.1', 'IP_ADDRESS');
  });
});

describe('URL and credentials in URLs', () => {
  it('reports the password of a URL as PASSWORD', () => {
    assert.deepEqual(found('redis://default:Xk29sLq0PzVb@cache.acme-corp.io:6379'), [['PASSWORD', 'Xk29sLq0PzVb'], ['URL', 'cache.acme-corp.io:6379']].filter(([c]) => c === 'PASSWORD'));
    assertFinds('basic_auth = "http://username:whywouldyouuse@example.com"', 'PASSWORD', 'whywouldyouuse');
  });
  it('reports public web URLs without trailing punctuation', () => {
    assertFinds('My website is https://www.jane-doe.dev/blog.', 'URL', 'https://www.jane-doe.dev/blog');
  });
  it('ignores localhost, private and documentation hosts and placeholder passwords', () => {
    assertNothing('see http://localhost:3000/api and http://127.0.0.1:8080 and https://docs.example.com/x', 'URL');
    assertNothing('http://10.0.0.5/status http://build.internal/x', 'URL');
    assertNothing('postgres://app:${DB_PASSWORD}@db:5432/app and mysql://root:****@db/x');
  });
});

describe('DATE_OF_BIRTH', () => {
  it('finds dates after a birth word', () => {
    assertFinds('DOB: 1984-03-12, member since 2020-01-01', 'DATE_OF_BIRTH', '1984-03-12');
    assertFinds('she was born on March 3, 1990 in Leeds', 'DATE_OF_BIRTH', 'March 3, 1990');
  });
  it('ignores dates without a birth word', () => {
    assertNothing('deployed 1984-03-12 and 03/04/2021', 'DATE_OF_BIRTH');
  });
});

describe('API_KEY from providers', () => {
  const keys: Array<[string, string]> = [
    ['openai', 'sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3iJk6l'],
    ['anthropic', 'sk-ant-api03-' + 'aB3_dE6-hI9'.repeat(8) + 'AA'],
    ['openrouter', 'sk-or-v1-' + '0123456789abcdef'.repeat(4)],
    ['aws', 'AKIAIOSFODNN7EXAMPLE'],
    ['github', 'ghp_' + 'A1b2C3d4E5'.repeat(3) + 'F6g7H8'],
    ['gitlab', 'glpat-Ab3dEf6hIj9kLm2nOp5q'],
    ['slack', 'xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx'],
    ['stripe', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc'],
    ['twilio', 'SK' + '0123456789abcdef'.repeat(2)],
    ['sendgrid', 'SG.' + 'aB3dE6hI9kL2nO5qR8tU1w' + '.' + 'xY4zAb7cDe0fGh3iJk6lMn9oPq2rSt5uVw8xYz1aBc4'],
    ['npm', 'npm_' + 'a1B2c3D4e5F6'.repeat(3)],
    ['google', 'AIza' + 'Sy' + 'A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q'],
  ];
  for (const [provider, key] of keys) {
    it(`finds a ${provider} key in code`, () => {
      assertFinds(`const client = new Client({ apiKey: "${key}" });`, 'API_KEY', key);
    });
  }
  it('finds the GCP service-account key id and private key', () => {
    const json = '{"type": "service_account", "private_key_id": "' + 'a1b2c3d4e5'.repeat(4) + '", "private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----\\n"}';
    const cls = classesIn(json);
    assert.ok(cls.includes('API_KEY') && cls.includes('PRIVATE_KEY'), JSON.stringify(found(json)));
  });
  it('finds an Azure storage account key', () => {
    const key = 'A1b2C3d4'.repeat(10) + 'AbCdEf' + '==';
    assertFinds(`DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=${key};EndpointSuffix=core.windows.net`, 'API_KEY', key);
  });
  it('does not take "task-" or "disk-" for an OpenAI key', () => {
    assertNothing('run task-abcdefghijklmnopqrstuvwxyz and disk-abcdefghijklmnopqrstuvwxyz', 'API_KEY');
  });
});

describe('PRIVATE_KEY and JWT', () => {
  it('finds whole PEM blocks, also truncated ones', () => {
    const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\nabc+/=\n-----END RSA PRIVATE KEY-----';
    assertFinds(`key:\n${pem}\nend`, 'PRIVATE_KEY', pem);
    const found1 = found('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA');
    assert.equal(found1[0]?.[0], 'PRIVATE_KEY');
  });
  it('ignores public keys and certificates', () => {
    assertNothing('-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----', 'PRIVATE_KEY');
  });
  it('finds a JWT with a JOSE header and ignores look-alikes', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';
    assertFinds(`Authorization: Bearer ${jwt}`, 'JWT', jwt);
    const notJose = Buffer.from('{"hello":"world!!"}').toString('base64url');
    assertNothing(`${notJose}.${notJose}.abcdefghijk`, 'JWT');
  });
});

describe('PASSWORD and generic secrets in assignments', () => {
  it('finds password assignments in env, ini, yaml, json and connection strings', () => {
    assertFinds('DB_PASSWORD=8ae31cacf141669ddfb5da\nDB_NAME=x', 'PASSWORD', '8ae31cacf141669ddfb5da');
    assertFinds('[db]\npassword = hunter2hunter', 'PASSWORD', 'hunter2hunter');
    assertFinds('  password: "Tr0ub4dor&3"', 'PASSWORD', 'Tr0ub4dor&3');
    assertFinds('{"password": "correct horse battery"}', 'PASSWORD', 'correct horse battery');
    assertFinds('Server=db;User Id=sa;Password=P@ssw0rd2024;Encrypt=true', 'PASSWORD', 'P@ssw0rd2024');
  });
  it('finds secret-named values as API_KEY', () => {
    assertFinds("client_secret = '8b1118b376c313ed420e5133ba91307817ed52c2'", 'API_KEY', '8b1118b376c313ed420e5133ba91307817ed52c2');
  });
  it('finds a high-entropy value under any key', () => {
    assertFinds('mimi=gX69YO4CvBsVjzAwYxdGyDd30t5+9ez31gKATtj4', 'API_KEY', 'gX69YO4CvBsVjzAwYxdGyDd30t5+9ez31gKATtj4');
  });
  it('ignores code, types, placeholders, env lookups, hashes and UUIDs', () => {
    assertNothing('interface Form { password: string; }\nconst password = getPassword();\npassword = user.password', 'PASSWORD');
    assertNothing('POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}\nAPI_KEY = os.environ["OPENAI_API_KEY"]\npassword: "<your password>"');
    assertNothing('"integrity": "sha512-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4zAb7cDe0fGh3iJk6lMn9oPq2rSt5uVw8xYz1aBc4dEf7gH"');
    assertNothing("uuid_should_be_ignored: '203db13e-70c7-462b-9a3d-bf32640cb0be'\ncommit = 7fe2ab034b22d0c767d04d9ad3af2e94fd8fabcb\nred_herring = 'DEADBEEF'");
    assertNothing('password_min_length = 12\npasswordPolicy: strict', 'PASSWORD');
    assertNothing('interface Deps {\n  authenticate: AuthenticateOptions;\n  author: "Jane Roe";\n  tokenizer: Tokenizer;\n}', 'API_KEY');
  });
});

describe('CRYPTO_WALLET', () => {
  it('finds checksum-valid Bitcoin and Ethereum addresses', () => {
    assertFinds('send to 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 please', 'CRYPTO_WALLET', '1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2');
    assertFinds('or bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq', 'CRYPTO_WALLET', 'bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq');
    assertFinds('eth 0x52908400098527886E0F7030069857D2E4169EE7', 'CRYPTO_WALLET', '0x52908400098527886E0F7030069857D2E4169EE7');
  });
  it('rejects a Base58 string with a bad checksum and a 64-hex transaction hash', () => {
    assertNothing('1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3', 'CRYPTO_WALLET');
    assertNothing('tx 0x' + 'ab'.repeat(32), 'CRYPTO_WALLET');
  });
});

describe('PERSON', () => {
  it('finds full names, names with initials and particles, and names after cues', () => {
    assertFinds('Please forward this to Sarah Connor tomorrow.', 'PERSON', 'Sarah Connor');
    assertFinds('Signed by Mary J. Blige', 'PERSON', 'Mary J. Blige');
    assertFinds('Ask Ludwig van Beethoven about it', 'PERSON', 'Ludwig van Beethoven');
    assertFinds('Dear Mr. Okonkwo, thanks', 'PERSON', 'Okonkwo');
    assertFinds("Kevin Veitonen's report", 'PERSON', 'Kevin Veitonen');
    assertFinds('Call Sarah Connor at home', 'PERSON', 'Sarah Connor');
    assertFinds('Rose Smith said so', 'PERSON', 'Rose Smith');
  });
  it('finds lower-case lexicon names only right after an explicit name cue', () => {
    assertFinds('hi, my name is lena and my card expired', 'PERSON', 'lena');
    assertNothing('i am going home, my name is not important', 'PERSON');
  });
  it('finds names listed next to names', () => {
    assertFinds('Our founders: Zyxwra, Becker and Vasquez.', 'PERSON', 'Zyxwra');
  });
  it('ignores code identifiers, common words, months and products', () => {
    assertNothing('class UserService extends BaseService { handle(): Promise<Error> {} }', 'PERSON');
    assertNothing('Will you Mark the Bill as paid in May? Docker and Kafka run on Linux.', 'PERSON');
    assertNothing('at Object.handle (/srv/app.js:10:5) TypeError: Cannot read properties', 'PERSON');
    assertNothing('Max retries exceeded with url: /v1/charges', 'PERSON');
    assertNothing('Date: Thu, 15 Jan 2026 10:00:00 GMT; due Sat 3 June', 'PERSON');
  });
  it('keeps calendar words that stand next to a name', () => {
    assertFinds('Please call June Carter or Jan Novák', 'PERSON', 'June Carter');
    assertFinds('Please call June Carter or Jan Novák', 'PERSON', 'Jan Novák');
  });
});

describe('ADDRESS', () => {
  it('finds US, continental, PO box and military addresses', () => {
    assertFinds('ship to 1600 Pennsylvania Avenue NW, Washington, DC 20500 asap', 'ADDRESS', '1600 Pennsylvania Avenue NW, Washington, DC 20500');
    assertFinds('Büro: Villacher Strasse 89, 9020 Klagenfurt', 'ADDRESS', 'Villacher Strasse 89, 9020 Klagenfurt');
    assertFinds('write to P.O. Box 1234', 'ADDRESS', 'P.O. Box 1234');
    assertFinds('PSC 0413, Box 8144\nAPO AA 42323', 'ADDRESS', 'PSC 0413, Box 8144\nAPO AA 42323');
    // Written in lower or mixed case (the rule ignores case; its gate must too).
    assertFinds('my address: psc 0413, box 8144 apo ae 09012 thanks', 'ADDRESS', 'psc 0413, box 8144 apo ae 09012');
    assertFinds('USS Nimitz\nFpo Ap 96620', 'ADDRESS', 'USS Nimitz\nFpo Ap 96620');
  });
  it('ignores numbers followed by ordinary words', () => {
    assertNothing('We shipped 3 Big Boxes and 12 Small Parts in 2019 Python 3', 'ADDRESS');
  });
});
