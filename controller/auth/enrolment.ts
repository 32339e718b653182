/**
 * Enrolment: an admin creates a one-time code for a subject (a gateway, an agent, a person);
 * whoever holds it exchanges it once for a short-lived access token plus a refresh token.
 * Refresh tokens rotate on every use and are stored only as SHA-256 hashes; presenting a spent
 * refresh token again revokes its whole family (it was probably stolen).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { ControllerTables } from '../storage/schema.js';
import type { AccessTokens, MintedToken } from './access-tokens.js';

export const ENROLMENT_CODE_PREFIX = 'sbe_';
export const REFRESH_TOKEN_PREFIX = 'sbr_';
export const DEFAULT_ENROLMENT_CODE_TTL_S = 24 * 60 * 60;
export const MAX_ENROLMENT_CODE_TTL_S = 30 * 24 * 60 * 60;
export const REFRESH_TOKEN_TTL_S = 30 * 24 * 60 * 60;

export interface CreatedEnrolmentCode {
  code: string;
  subject: string;
  roles: string[];
  expiresAt: number;
}

export interface TokenPair {
  accessToken: MintedToken;
  refreshToken: string;
  refreshExpiresAt: number;
  subject: string;
  roles: string[];
}

/** A code or refresh token that cannot be used; the message is safe to show the caller. */
export class CredentialRejected extends Error {
  override name = 'CredentialRejected';
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const secret = (prefix: string) => `${prefix}${randomBytes(24).toString('base64url')}`;

export class Enrolment {
  constructor(
    private readonly db: Kysely<ControllerTables>,
    private readonly tokens: AccessTokens,
  ) {}

  async createCode(req: { subject: string; roles: string[]; createdBy: string; ttlSeconds?: number }): Promise<CreatedEnrolmentCode> {
    const ttl = req.ttlSeconds ?? DEFAULT_ENROLMENT_CODE_TTL_S;
    if (!Number.isInteger(ttl) || ttl <= 0 || ttl > MAX_ENROLMENT_CODE_TTL_S) {
      throw new RangeError(`enrolment code TTL must be 1-${MAX_ENROLMENT_CODE_TTL_S} seconds (got ${ttl})`);
    }
    const code = secret(ENROLMENT_CODE_PREFIX);
    const now = Date.now();
    const expiresAt = now + ttl * 1000;
    await this.db
      .insertInto('enrolment_codes')
      .values({
        code_hash: sha256(code),
        subject: req.subject,
        roles: JSON.stringify(req.roles),
        created_by: req.createdBy,
        created_at: now,
        expires_at: expiresAt,
        used_at: null,
      })
      .execute();
    return { code, subject: req.subject, roles: [...req.roles], expiresAt: Math.floor(expiresAt / 1000) };
  }

  /** Redeems a code exactly once (a conditional UPDATE, so two racing redeemers cannot both win). */
  async exchange(code: string): Promise<TokenPair> {
    const now = Date.now();
    const hash = sha256(code);
    const claimed = await this.db
      .updateTable('enrolment_codes')
      .set({ used_at: now })
      .where('code_hash', '=', hash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) {
      const row = await this.db.selectFrom('enrolment_codes').select(['used_at', 'expires_at']).where('code_hash', '=', hash).executeTakeFirst();
      if (!row) throw new CredentialRejected('enrolment code is not valid');
      if (row.used_at !== null) throw new CredentialRejected('enrolment code has already been used');
      throw new CredentialRejected('enrolment code has expired');
    }
    const row = await this.db.selectFrom('enrolment_codes').select(['subject', 'roles']).where('code_hash', '=', hash).executeTakeFirstOrThrow();
    return this.issue(row.subject, JSON.parse(row.roles) as string[], randomUUID(), 'enrolment', now);
  }

  /** Rotates a refresh token: the presented one is spent, a new pair is returned. */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const now = Date.now();
    const hash = sha256(refreshToken);
    const claimed = await this.db
      .updateTable('refresh_tokens')
      .set({ used_at: now })
      .where('token_hash', '=', hash)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    const row = await this.db
      .selectFrom('refresh_tokens')
      .select(['family_id', 'subject', 'roles', 'used_at', 'revoked_at'])
      .where('token_hash', '=', hash)
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) {
      if (!row) throw new CredentialRejected('refresh token is not valid');
      if (row.revoked_at !== null) throw new CredentialRejected('refresh token has been revoked; enrol again');
      if (row.used_at !== null) {
        await this.revokeFamily(row.family_id, now);
        throw new CredentialRejected('refresh token was already used; all tokens from this enrolment are revoked, enrol again');
      }
      throw new CredentialRejected('refresh token has expired; enrol again');
    }
    return this.issue(row!.subject, JSON.parse(row!.roles) as string[], row!.family_id, 'refresh', now);
  }

  private async revokeFamily(familyId: string, now: number): Promise<void> {
    await this.db.updateTable('refresh_tokens').set({ revoked_at: now }).where('family_id', '=', familyId).where('revoked_at', 'is', null).execute();
  }

  private async issue(subject: string, roles: string[], familyId: string, authMethod: string, now: number): Promise<TokenPair> {
    const accessToken = await this.tokens.mintAccessToken({ subject, roles, authMethod });
    const refreshToken = secret(REFRESH_TOKEN_PREFIX);
    const refreshExpiresAt = now + REFRESH_TOKEN_TTL_S * 1000;
    await this.db
      .insertInto('refresh_tokens')
      .values({
        token_hash: sha256(refreshToken),
        family_id: familyId,
        subject,
        roles: JSON.stringify(roles),
        created_at: now,
        expires_at: refreshExpiresAt,
        used_at: null,
        revoked_at: null,
      })
      .execute();
    return { accessToken, refreshToken, refreshExpiresAt: Math.floor(refreshExpiresAt / 1000), subject, roles };
  }
}
