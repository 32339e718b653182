/** Issue #8: realistic surrogates of two different real values of one tenant never collide. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { normaliseValue, TenantKeys } from '../../gateway/guard/pseudonym.js';
import { realisticSurrogate } from '../../gateway/guard/surrogate.js';

const keys = new TenantKeys(randomBytes(32));

function assertInjective(cls: string, values: readonly string[], tenant = 'acme'): void {
  const pz = keys.pseudonymizer(tenant);
  const bySurrogate = new Map<string, string>();
  for (const value of values) {
    const digest = pz.digest(cls, normaliseValue(cls, value));
    const surrogate = realisticSurrogate(cls, value, digest, 0);
    assert.ok(surrogate !== undefined, `${cls}: no surrogate for ${value}`);
    const owner = bySurrogate.get(surrogate);
    assert.ok(owner === undefined || normaliseValue(cls, owner) === normaliseValue(cls, value),
      `${cls}: ${JSON.stringify(owner)} and ${JSON.stringify(value)} share the surrogate ${JSON.stringify(surrogate)}`);
    bySurrogate.set(surrogate, value);
    // Stable: the same value gets the same surrogate again.
    assert.equal(realisticSurrogate(cls, value, digest, 0), surrogate);
  }
}

describe('realistic surrogates', () => {
  it('never give two different values of a tenant the same surrogate (thousands of values per class)', () => {
    const n = 6000;
    const range = (f: (i: number) => string) => Array.from({ length: n }, (_, i) => f(i));
    assertInjective('PERSON', range((i) => `Person${i} Example${i}`));
    // One-word names draw from the given names only: the smallest space, the most skipping.
    assertInjective('PERSON', range((i) => `Firstname${i}`));
    assertInjective('EMAIL', range((i) => `user${i}@corp.io`));
    // A short local number has few digits to vary: 10^4 layouts for 6000 values.
    assertInjective('PHONE', range((i) => `555-${String(i).padStart(4, '0')}`));
    assertInjective('US_SSN', range((i) => `123-45-${String(i + 1).padStart(4, '0')}`));
    assertInjective('IP_ADDRESS', range((i) => `81.2.${i >> 8}.${i & 255}`));
    assertInjective('CREDIT_CARD', range((i) => `4111 1111 ${String(i).padStart(4, '0')} 1111`));
  });

  it('also keep a second tenant\'s values apart from the first\'s', () => {
    assertInjective('PERSON', Array.from({ length: 2000 }, (_, i) => `Other${i} Tenant${i}`), 'globex');
  });
});
