import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backends } from './backends.js';
import { SigningKeys } from '../../controller/auth/signing-keys.js';
import { AccessTokens, type MintRequest, type MintedToken } from '../../controller/auth/access-tokens.js';
import { CredentialRejected, Enrolment, REFRESH_GRACE_MS, type TokenPair } from '../../controller/auth/enrolment.js';
import { DirectoryRepository } from '../../controller/directory/repository.js';
import { importDirectory } from '../../controller/directory/import.js';
import { sampleDirectoryYaml } from './harness.js';

/** Access tokens whose minting can be made to fail once, to prove a failed rotation spends nothing. */
class FlakyTokens extends AccessTokens {
  failNext = false;
  override async mintAccessToken(req: MintRequest): Promise<MintedToken> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('signing failed');
    }
    return super.mintAccessToken(req);
  }
}

const rejected = (pattern: RegExp) => (err: unknown) => err instanceof CredentialRejected && pattern.test(err.message);

describe('refresh token rotation on both backends', () => {
  for (const backend of backends) {
    it(`${backend.name}: one transaction, a grace window for lost replies, revocation on reuse, directory roles, a capped chain`, async () => {
      const b = await backend.open();
      try {
        const clock = { now: Date.now() };
        const tokens = new FlakyTokens(await SigningKeys.loadOrCreate(b.dataDir), { issuer: 'urn:test', audience: 'switchboard-controller', tenant: 'acme' });
        const directory = new DirectoryRepository(b.handle.db);
        await importDirectory(sampleDirectoryYaml, 'yaml', 'org.yaml', directory);
        const maxChainMs = 10 * 24 * 3_600_000;
        const enrolment = new Enrolment(b.handle.db, tokens, {
          tenant: 'acme',
          rolesOf: async (s) => {
            const node = await directory.get(s);
            return node?.kind === 'person' ? node.roles : undefined;
          },
          bundleKeysFingerprint: async () => 'fp-test',
          now: () => clock.now,
          maxChainMs,
        });
        const enrol = async (subject: string, roles: string[]) => enrolment.exchange((await enrolment.createCode({ subject, roles, createdBy: 'test' })).code);

        // A rotation that fails half-way spends nothing: the same token still works afterwards.
        const gw = await enrol('gateway:laptop', ['engineering']);
        assert.equal(gw.tenant, 'acme');
        assert.equal((await tokens.verify(gw.accessToken.token)).tenant, 'acme', 'every token carries its tenant');
        tokens.failNext = true;
        await assert.rejects(enrolment.refresh(gw.refreshToken), /signing failed/);
        const p1 = await enrolment.refresh(gw.refreshToken);

        // The reply was lost: the same spent token, within the grace window, returns the same pair.
        clock.now += REFRESH_GRACE_MS - 1000;
        const again = await enrolment.refresh(gw.refreshToken);
        assert.deepEqual(again, p1);
        // Concurrent presentations of one token all get one pair.
        const concurrent = await Promise.all([0, 1, 2].map(() => enrolment.refresh(p1.refreshToken)));
        assert.equal(new Set(concurrent.map((p) => p.refreshToken)).size, 1);
        const p2 = concurrent[0]!;
        assert.equal(await b.handle.db.selectFrom('refresh_tokens').select('token_hash').where('revoked_at', 'is not', null).execute().then((r) => r.length), 0, 'nothing revoked so far');

        // After the window, the spent token is a copy: the whole family is revoked.
        clock.now += REFRESH_GRACE_MS + 1000;
        await assert.rejects(enrolment.refresh(p1.refreshToken), rejected(/already used; all tokens from this enrolment are revoked/));
        await assert.rejects(enrolment.refresh(p2.refreshToken), rejected(/revoked/));

        // Within the window too, once the new pair has been used.
        const other = await enrol('gateway:desk', ['engineering']);
        const o1 = await enrolment.refresh(other.refreshToken);
        await enrolment.refresh(o1.refreshToken);
        await assert.rejects(enrolment.refresh(other.refreshToken), rejected(/already used/));

        // A person's roles are read from the directory at every refresh.
        const cfo = await enrol('cfo', ['finance', 'treasury']);
        await importDirectory(sampleDirectoryYaml.replace('roles: [finance, treasury]', 'roles: [finance]'), 'yaml', 'org.yaml', directory);
        const c1 = await enrolment.refresh(cfo.refreshToken);
        assert.deepEqual(c1.roles, ['finance'], 'treasury dropped once the directory drops it');
        assert.deepEqual((await tokens.verify(c1.accessToken.token)).roles, ['finance']);
        await importDirectory(sampleDirectoryYaml.replace('roles: [finance, treasury]', 'roles: []'), 'yaml', 'org.yaml', directory);
        await assert.rejects(enrolment.refresh(c1.refreshToken), rejected(/no longer holds any of the roles/));

        // A chain of refreshes ends at the cap, however often it is refreshed.
        const capped = await enrol('gateway:old', ['engineering']);
        assert.ok(capped.refreshExpiresAt * 1000 <= clock.now + maxChainMs);
        let current: TokenPair = capped;
        for (let day = 0; day < 9; day++) {
          clock.now += 24 * 3_600_000;
          current = await enrolment.refresh(current.refreshToken);
        }
        clock.now += 2 * 24 * 3_600_000;
        await assert.rejects(enrolment.refresh(current.refreshToken), rejected(/maximum lifetime|expired/));
      } finally {
        await b.dispose();
      }
    });
  }
});
