/**
 * OIDC sign-in at the controller: an ID token from a trusted issuer becomes a sign-in session
 * and the person's agent JWT (≤ 30 min, audience-bound, person, role, department and tenant
 * claims, `jti`). The gateway renews the JWT with the session token, which rotates on every use,
 * until the sign-in expires, is revoked (`switchboard logout`), or the person leaves the directory.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ControllerTables } from '../../storage/schema.js';
import type { DirectoryRepository } from '../../directory/repository.js';
import type { AccessTokens, MintedToken } from '../access-tokens.js';
import type { OidcConfig, OidcIssuerConfig } from './config.js';
import { IdTokenVerifier, OidcRejected } from './id-token.js';
import { OidcForbidden, resolvePerson, type SignedInPerson } from './identity.js';
import './migrations.js';

export const SESSION_TOKEN_PREFIX = 'sbs_';

export interface SignInResult {
  accessToken: MintedToken;
  sessionToken: string;
  /** Unix seconds. */
  sessionExpiresAt: number;
  subject: string;
  roles: string[];
  issuer: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const newSessionToken = () => `${SESSION_TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;

export class OidcSignIn {
  private readonly verifier: IdTokenVerifier;

  constructor(
    readonly config: OidcConfig,
    private readonly db: Kysely<ControllerTables>,
    private readonly directory: DirectoryRepository,
    private readonly tokens: AccessTokens,
  ) {
    this.verifier = new IdTokenVerifier(config.issuers);
  }

  /** What `switchboard login` needs to start a flow at each IdP (nothing secret). */
  publicIssuers(): Array<Pick<OidcIssuerConfig, 'name' | 'issuer' | 'clientId' | 'scopes'>> {
    return this.config.issuers.map(({ name, issuer, clientId, scopes }) => ({ name, issuer, clientId, scopes }));
  }

  async signIn(idToken: string): Promise<SignInResult> {
    const { issuer, claims } = await this.verifier.verify(idToken);
    const person = await resolvePerson(issuer, claims, this.directory);
    const now = Date.now();
    const sessionToken = newSessionToken();
    const id = randomUUID();
    const expiresAt = now + Math.round(this.config.sessionHours * 3600_000);
    await this.db
      .insertInto('signin_sessions')
      .values({
        id,
        token_hash: sha256(sessionToken),
        prev_token_hash: null,
        person_id: person.personId,
        issuer: issuer.name,
        roles: JSON.stringify(person.roles),
        created_at: now,
        expires_at: expiresAt,
        renewed_at: null,
        revoked_at: null,
        revoked_reason: null,
      })
      .execute();
    return this.result(id, issuer.name, person, sessionToken, expiresAt);
  }

  /** A fresh agent JWT and a new session token; the presented one is spent. */
  async renew(sessionToken: string): Promise<SignInResult> {
    const now = Date.now();
    const hash = sha256(sessionToken);
    const row = await this.db.selectFrom('signin_sessions').selectAll().where('token_hash', '=', hash).executeTakeFirst();
    if (!row) {
      const replayed = await this.db.selectFrom('signin_sessions').select(['id']).where('prev_token_hash', '=', hash).executeTakeFirst();
      if (replayed) {
        await this.revokeRow(replayed.id, 'session token reused', now);
        throw new OidcRejected('session token was already used; the sign-in is revoked, run `switchboard login` again');
      }
      throw new OidcRejected('session token is not valid; run `switchboard login`');
    }
    if (row.revoked_at !== null) throw new OidcRejected('sign-in has been revoked; run `switchboard login`');
    if (Number(row.expires_at) <= now) throw new OidcRejected('sign-in has expired; run `switchboard login`');
    const issuer = this.config.issuers.find((i) => i.name === row.issuer);
    if (!issuer) {
      await this.revokeRow(row.id, 'issuer no longer trusted', now);
      throw new OidcRejected('the identity provider of this sign-in is no longer trusted; run `switchboard login`');
    }
    // The directory decides on every renewal: a person removed there loses access within one token lifetime.
    const node = await this.directory.getFresh(row.person_id);
    if (!node || node.kind !== 'person') {
      await this.revokeRow(row.id, 'person removed from directory', now);
      throw new OidcForbidden('you are no longer in the organisation directory; access is revoked');
    }
    const facts = await this.directory.personFacts(row.person_id, { fresh: true });
    const roles = issuer.roles.from === 'directory' ? [...node.roles] : (JSON.parse(row.roles) as string[]);
    if (roles.length === 0) {
      await this.revokeRow(row.id, 'no roles left', now);
      throw new OidcForbidden('you no longer hold a role that gives access to Switchboard');
    }
    const next = newSessionToken();
    const claimed = await this.db
      .updateTable('signin_sessions')
      .set({ token_hash: sha256(next), prev_token_hash: hash, renewed_at: now, roles: JSON.stringify(roles) })
      .where('id', '=', row.id)
      .where('token_hash', '=', hash)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    // Two renewals raced with the same token: only one wins, the other is a reuse.
    if (Number(claimed.numUpdatedRows) !== 1) throw new OidcRejected('session token was already used; run `switchboard login`');
    return this.result(row.id, issuer.name, { personId: row.person_id, roles, department: facts?.department ?? null }, next, Number(row.expires_at));
  }

  /** Ends a sign-in (`switchboard logout`). Unknown tokens are accepted silently: logout is idempotent. */
  async signOut(sessionToken: string): Promise<boolean> {
    const hash = sha256(sessionToken);
    const row = await this.db.selectFrom('signin_sessions').select(['id']).where('token_hash', '=', hash).where('revoked_at', 'is', null).executeTakeFirst();
    if (!row) return false;
    await this.revokeRow(row.id, 'signed out', Date.now());
    return true;
  }

  /** Ends a sign-in by its id (the web console's sign-out: it holds the `sid`, not the session token). */
  async endSession(sessionId: string, reason: string): Promise<void> {
    await this.revokeRow(sessionId, reason, Date.now());
  }

  /** Whether the sign-in a token came from (`sid` claim) is still live; used to refuse tokens after logout. */
  async sessionActive(sessionId: string): Promise<boolean> {
    const row = await this.db.selectFrom('signin_sessions').select(['revoked_at', 'expires_at']).where('id', '=', sessionId).executeTakeFirst();
    return Boolean(row && row.revoked_at === null && Number(row.expires_at) > Date.now());
  }

  private async revokeRow(id: string, reason: string, now: number): Promise<void> {
    await this.db.updateTable('signin_sessions').set({ revoked_at: now, revoked_reason: reason }).where('id', '=', id).where('revoked_at', 'is', null).execute();
  }

  private async result(sessionId: string, issuer: string, person: SignedInPerson, sessionToken: string, expiresAtMs: number): Promise<SignInResult> {
    const ttl = Math.min(this.config.accessTokenSeconds, Math.max(60, Math.floor((expiresAtMs - Date.now()) / 1000)));
    const accessToken = await this.tokens.mintAccessToken({
      subject: person.personId,
      roles: person.roles,
      ttlSeconds: ttl,
      authMethod: 'oidc',
      claims: { tenant: this.config.tenant, idp: issuer, sid: sessionId, ...(person.department ? { org_unit: person.department } : {}) },
    });
    return { accessToken, sessionToken, sessionExpiresAt: Math.floor(expiresAtMs / 1000), subject: person.personId, roles: person.roles, issuer };
  }
}
