import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { TenantKeys, normaliseValue, GUARD_MASTER_KEY_FILE } from '../../gateway/guard/pseudonym.js';
import { realisticSurrogate, luhnCheckDigit } from '../../gateway/guard/surrogate.js';
import { Vault, loadOrCreateVaultKey, GUARD_VAULT_KEY_FILE } from '../../gateway/guard/vault.js';
import { openGatewayDb } from '../../platform/sqlite.js';
import { SecretStore } from '../../platform/secrets/store.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'sb-guard-'));
}

describe('pseudonyms', () => {
  const keys = new TenantKeys(randomBytes(32));

  it('are deterministic per tenant and differ across tenants', () => {
    const a = keys.pseudonymizer('acme');
    const b = keys.pseudonymizer('globex');
    const ta = a.token('EMAIL', a.digest('EMAIL', 'jane@corp.io'));
    assert.match(ta, /^EMAIL_[0-9A-F]{8}$/);
    assert.equal(ta, a.token('EMAIL', a.digest('EMAIL', 'jane@corp.io')));
    assert.notEqual(ta, b.token('EMAIL', b.digest('EMAIL', 'jane@corp.io')));
    assert.notEqual(ta, a.token('EMAIL', a.digest('EMAIL', 'john@corp.io')));
    // The class is part of the HMAC input.
    assert.notEqual(a.digest('EMAIL', 'x').toString('hex'), a.digest('PERSON', 'x').toString('hex'));
  });

  it('normalise case and separators where they do not change identity', () => {
    assert.equal(normaliseValue('EMAIL', ' Jane@Corp.IO '), 'jane@corp.io');
    assert.equal(normaliseValue('PHONE', '+1 (415) 555-0100'), '+14155550100');
    assert.equal(normaliseValue('CREDIT_CARD', '4111 1111-1111 1111'), '4111111111111111');
    assert.equal(normaliseValue('API_KEY', 'sk-AbC'), 'sk-AbC');
    assert.equal(normaliseValue('PERSON', 'Jane   DOE'), 'jane doe');
  });

  it('keep the master key in the secret store, surviving restarts', () => {
    const dir = tempDir();
    try {
      const p1 = TenantKeys.fromDataDir(dir).pseudonymizer('t');
      const p2 = TenantKeys.fromDataDir(dir).pseudonymizer('t');
      assert.equal(p1.digest('EMAIL', 'a@b.co').toString('hex'), p2.digest('EMAIL', 'a@b.co').toString('hex'));
      assert.equal(existsSync(join(dir, GUARD_MASTER_KEY_FILE)), false);
      assert.ok(SecretStore.open({ dataDir: dir }).get('guard.master'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('realistic surrogates', () => {
  const digest = randomBytes(32);

  it('keep the shape of each class', () => {
    assert.match(realisticSurrogate('EMAIL', 'jane@corp.io', digest, 0)!, /^[a-z]+\.[a-z]+@example\.(com|net|org)$/);
    assert.match(realisticSurrogate('PERSON', 'Jane Doe', digest, 0)!, /^[A-Z][a-z]+ [A-Z][a-z]+$/);
    assert.match(realisticSurrogate('PERSON', 'Jane', digest, 0)!, /^[A-Z][a-z]+$/);
    assert.match(realisticSurrogate('PHONE', '+44 20 7946 0958', digest, 0)!, /^\+44 \d\d \d{4} \d{4}$/);
    assert.match(realisticSurrogate('US_SSN', '123-45-6789', digest, 0)!, /^\d{3}-\d{2}-\d{4}$/);
    assert.match(realisticSurrogate('IP_ADDRESS', '10.1.2.3', digest, 0)!, /^(192\.0\.2|198\.51\.100|203\.0\.113|198\.1[89]\.\d+)\.\d+$/);
    assert.equal(realisticSurrogate('API_KEY', 'sk-x', digest, 0), undefined);
  });

  it('give Luhn-valid card numbers with the same layout and network digit', () => {
    for (let i = 0; i < 50; i++) {
      const s = realisticSurrogate('CREDIT_CARD', '4111 1111 1111 1111', randomBytes(32), 0)!;
      assert.match(s, /^4\d{3} \d{4} \d{4} \d{4}$/);
      const digits = s.replace(/\D/g, '').split('').map(Number);
      assert.equal(digits[digits.length - 1], luhnCheckDigit(digits.slice(0, -1)));
    }
  });

  it('are deterministic, and another attempt gives another candidate', () => {
    assert.equal(realisticSurrogate('EMAIL', 'a@b.co', digest, 0), realisticSurrogate('EMAIL', 'a@b.co', digest, 0));
    const attempts = new Set(Array.from({ length: 10 }, (_, i) => realisticSurrogate('EMAIL', 'a@b.co', digest, i)));
    assert.ok(attempts.size > 1);
  });
});

describe('vault', () => {
  it('stores values encrypted, bound to tenant and pseudonym, with the key outside the database', () => {
    const dir = tempDir();
    const db = openGatewayDb(join(dir, 'gateway.db'));
    try {
      const key = loadOrCreateVaultKey(dir);
      assert.equal(existsSync(join(dir, GUARD_VAULT_KEY_FILE)), false);
      assert.equal(Buffer.from(SecretStore.open({ dataDir: dir }).get('vault.key')!, 'base64').toString('hex'), key.toString('hex'));
      const vault = new Vault(db, key, { pseudonymReaders: ['audited-reveal'] });
      const secret = 'very-secret-value-4242@corp.example';
      vault.put('acme', [{ pseudonym: 'EMAIL_00AA11BB', class: 'EMAIL', value: secret }]);
      assert.deepEqual(vault.get('acme', 'EMAIL_00AA11BB'), { pseudonym: 'EMAIL_00AA11BB', class: 'EMAIL', value: secret });
      assert.equal(vault.get('globex', 'EMAIL_00AA11BB'), undefined);
      db.pragma('wal_checkpoint(TRUNCATE)');
      const raw = readFileSync(join(dir, 'gateway.db'));
      assert.equal(raw.includes(Buffer.from(secret)), false, 'value must not be in the database in clear');
      // A row moved to another pseudonym fails authentication instead of decrypting.
      db.prepare("UPDATE guard_vault SET pseudonym = 'EMAIL_FFFFFFFF'").run();
      assert.throws(() => vault.get('acme', 'EMAIL_FFFFFFFF'));
      // Another key cannot read the map rows either.
      const ref = vault.putMap('acme', [{ pseudonym: 'PERSON_01020304', class: 'PERSON', value: 'Jane Doe' }]);
      assert.deepEqual(vault.getMap('acme', ref), [{ pseudonym: 'PERSON_01020304', class: 'PERSON', value: 'Jane Doe' }]);
      assert.throws(() => new Vault(db, randomBytes(32)).getMap('acme', ref));
      assert.equal(vault.getMap('globex', ref), undefined);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('expires entries after the TTL and purges them', () => {
    const dir = tempDir();
    const db = openGatewayDb(join(dir, 'gateway.db'));
    try {
      let now = 1_000_000;
      const vault = new Vault(db, randomBytes(32), { ttlMs: 1000, now: () => now, pseudonymReaders: ['reidentify-after-restart'] });
      vault.put('t', [{ pseudonym: 'EMAIL_0000AAAA', class: 'EMAIL', value: 'a@b.co' }]);
      const ref = vault.putMap('t', [{ pseudonym: 'EMAIL_0000AAAA', class: 'EMAIL', value: 'a@b.co' }]);
      now += 999;
      assert.ok(vault.get('t', 'EMAIL_0000AAAA'));
      now += 1;
      assert.equal(vault.get('t', 'EMAIL_0000AAAA'), undefined);
      assert.equal(vault.getMap('t', ref), undefined);
      assert.equal(vault.purgeExpired(), 2);
      assert.equal((db.prepare('SELECT COUNT(*) AS n FROM guard_vault').get() as { n: number }).n, 0);
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
