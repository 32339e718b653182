/**
 * Enrolment: an admin creates a one-time code for a subject (a gateway, an agent, a person);
 * whoever holds it exchanges it once for a short-lived access token plus a refresh token.
 *
 * Refresh tokens rotate on every use and are stored only as SHA-256 hashes. Rotation is one
 * transaction: the presented token is spent and its successor stored together, or neither.
 * A reply can still be lost on the way back, so for REFRESH_GRACE_MS after a rotation the
 * spent token returns the same new pair again (sealed in its row with a key derived from the
 * spent token itself, so the database alone cannot open it). Presenting it later, or after
 * its successor was used, revokes the whole family (it was probably copied).
 * A chain of refreshes ends MAX_REFRESH_CHAIN_MS after enrolment, and a directory person's
 * roles are read again at every refresh: a person who lost a role loses it within one access
 * token lifetime.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { ControllerTables } from '../storage/schema.js';
import type { AccessTokens, MintedToken } from './access-tokens.js';
import './migrations.js';

export const ENROLMENT_CODE_PREFIX = 'sbe_';
export const REFRESH_TOKEN_PREFIX = 'sbr_';
/** Separates the secret of an enrolment code from the bundle-key fingerprint it carries. */
export const CODE_PIN_SEPARATOR = '.';
export const DEFAULT_ENROLMENT_CODE_TTL_S = 24 * 60 * 60;
export const MAX_ENROLMENT_CODE_TTL_S = 30 * 24 * 60 * 60;
export const REFRESH_TOKEN_TTL_S = 30 * 24 * 60 * 60;
/** How long a spent refresh token still returns the pair it was exchanged for. */
export const REFRESH_GRACE_MS = 60_000;
/** Longest life of a refresh chain: after this, the subject enrols again. */
export const MAX_REFRESH_CHAIN_MS = 90 * 24 * 3_600_000;

export interface CreatedEnrolmentCode {
  /** `sbe_<secret>.<bundle-key fingerprint>`: the gateway checks the keys it fetches against the fingerprint. */
  code: string;
  subject: string;
  roles: string[];
  tenant: string;
  expiresAt: number;
}

export interface TokenPair {
  accessToken: MintedToken;
  refreshToken: string;
  refreshExpiresAt: number;
  subject: string;
  roles: string[];
  tenant: string;
}

export interface EnrolmentOptions {
  /** The controller's tenant: codes made without one are for it. */
  tenant: string;
  /** A subject's roles in the directory when it is a person there, else undefined. */
  rolesOf(subject: string): Promise<string[] | undefined>;
  /** Fingerprint of the bundle key set, put into every code (policies/bundle/format.ts). */
  bundleKeysFingerprint(): Promise<string>;
  /** Clock (epoch ms), for tests. */
  now?: () => number;
  graceMs?: number;
  maxChainMs?: number;
}

/** A code or refresh token that cannot be used; the message is safe to show the caller. */
export class CredentialRejected extends Error {
  override name = 'CredentialRejected';
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const secret = (prefix: string) => `${prefix}${randomBytes(24).toString('base64url')}`;

/** What a rotation decided; refusals are thrown only after the transaction committed (a revocation must stick). */
type Rotation = { ok: TokenPair } | { refused: string };

export class Enrolment {
  private readonly now: () => number;
  private readonly graceMs: number;
  private readonly maxChainMs: number;

  constructor(
    private readonly db: Kysely<ControllerTables>,
    private readonly tokens: AccessTokens,
    private readonly opts: EnrolmentOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.graceMs = opts.graceMs ?? REFRESH_GRACE_MS;
    this.maxChainMs = opts.maxChainMs ?? MAX_REFRESH_CHAIN_MS;
  }

  async createCode(req: { subject: string; roles: string[]; createdBy: string; ttlSeconds?: number; tenant?: string }): Promise<CreatedEnrolmentCode> {
    const ttl = req.ttlSeconds ?? DEFAULT_ENROLMENT_CODE_TTL_S;
    if (!Number.isInteger(ttl) || ttl <= 0 || ttl > MAX_ENROLMENT_CODE_TTL_S) {
      throw new RangeError(`enrolment code TTL must be 1-${MAX_ENROLMENT_CODE_TTL_S} seconds (got ${ttl})`);
    }
    const code = secret(ENROLMENT_CODE_PREFIX);
    const tenant = req.tenant ?? this.opts.tenant;
    const now = this.now();
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
        tenant,
      })
      .execute();
    const pinned = `${code}${CODE_PIN_SEPARATOR}${await this.opts.bundleKeysFingerprint()}`;
    return { code: pinned, subject: req.subject, roles: [...req.roles], tenant, expiresAt: Math.floor(expiresAt / 1000) };
  }

  /** Redeems a code exactly once: claiming it and issuing the first pair is one transaction. */
  async exchange(code: string): Promise<TokenPair> {
    const now = this.now();
    const hash = sha256(code.split(CODE_PIN_SEPARATOR)[0]!);
    const row = await this.db.selectFrom('enrolment_codes').select(['subject', 'roles', 'tenant', 'used_at', 'expires_at']).where('code_hash', '=', hash).executeTakeFirst();
    if (!row) throw new CredentialRejected('enrolment code is not valid');
    const fromDirectory = (await this.opts.rolesOf(row.subject)) !== undefined;
    const result = await this.db.transaction().execute(async (trx): Promise<Rotation> => {
      const claimed = await trx
        .updateTable('enrolment_codes')
        .set({ used_at: now })
        .where('code_hash', '=', hash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      if (Number(claimed.numUpdatedRows) !== 1) {
        return { refused: row.used_at !== null || Number(row.expires_at) > now ? 'enrolment code has already been used' : 'enrolment code has expired' };
      }
      const chain = { familyId: randomUUID(), tenant: row.tenant ?? this.opts.tenant, fromDirectory, chainExpiresAt: now + this.maxChainMs };
      return { ok: await this.issue(trx, row.subject, JSON.parse(row.roles) as string[], chain, 'enrolment', now) };
    });
    if ('refused' in result) throw new CredentialRejected(result.refused);
    return result.ok;
  }

  /** Rotates a refresh token: the presented one is spent and a new pair returned, in one transaction. */
  async refresh(refreshToken: string): Promise<TokenPair> {
    const now = this.now();
    const hash = sha256(refreshToken);
    const row = await this.db.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst();
    if (!row) throw new CredentialRejected('refresh token is not valid');
    // Read before the transaction: on SQLite a second query outside it would wait for it forever.
    const directoryRoles = row.from_directory === 1 ? ((await this.opts.rolesOf(row.subject)) ?? []) : undefined;

    const result = await this.db.transaction().execute(async (trx): Promise<Rotation> => {
      const claimed = await trx
        .updateTable('refresh_tokens')
        .set({ used_at: now })
        .where('token_hash', '=', hash)
        .where('used_at', 'is', null)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', now)
        .executeTakeFirst();
      // Re-read inside the transaction: a racing rotation of the same token has committed by now.
      const current = (await trx.selectFrom('refresh_tokens').selectAll().where('token_hash', '=', hash).executeTakeFirst())!;
      if (Number(claimed.numUpdatedRows) !== 1) return this.spentTokenPresented(trx, current, refreshToken, now);

      if (current.chain_expires_at !== null && Number(current.chain_expires_at) <= now) {
        await this.revokeFamily(trx, current.family_id, now);
        return { refused: 'this enrolment has reached its maximum lifetime; enrol again' };
      }
      const granted = JSON.parse(current.roles) as string[];
      // A person keeps only the granted roles the directory still gives them.
      const roles = directoryRoles === undefined ? granted : granted.filter((r) => directoryRoles.includes(r));
      if (roles.length === 0) {
        await this.revokeFamily(trx, current.family_id, now);
        return { refused: `"${current.subject}" no longer holds any of the roles this enrolment granted (${granted.join(', ')}); enrol again` };
      }
      const chain = {
        familyId: current.family_id,
        tenant: current.tenant ?? this.opts.tenant,
        fromDirectory: current.from_directory === 1,
        chainExpiresAt: current.chain_expires_at === null ? null : Number(current.chain_expires_at),
      };
      const pair = await this.issue(trx, current.subject, roles, chain, 'refresh', now);
      await trx
        .updateTable('refresh_tokens')
        .set({ successor_hash: sha256(pair.refreshToken), successor_sealed: seal(pair, refreshToken) })
        .where('token_hash', '=', hash)
        .execute();
      return { ok: pair };
    });
    if ('refused' in result) throw new CredentialRejected(result.refused);
    return result.ok;
  }

  /** A token that was not claimable: revoked, expired, replayed within the grace window, or reused. */
  private async spentTokenPresented(trx: Transaction<ControllerTables>, row: ControllerTables['refresh_tokens'], token: string, now: number): Promise<Rotation> {
    if (row.revoked_at !== null) return { refused: 'refresh token has been revoked; enrol again' };
    if (row.used_at === null) return { refused: 'refresh token has expired; enrol again' };
    if (now - Number(row.used_at) <= this.graceMs && row.successor_hash && row.successor_sealed) {
      const successor = await trx.selectFrom('refresh_tokens').select(['used_at', 'revoked_at']).where('token_hash', '=', row.successor_hash).executeTakeFirst();
      // The same pair again, as long as nobody has used it yet: that is a lost reply, not a copy.
      if (successor && successor.used_at === null && successor.revoked_at === null) return { ok: unseal(row.successor_sealed, token) };
    }
    await this.revokeFamily(trx, row.family_id, now);
    return { refused: 'refresh token was already used; all tokens from this enrolment are revoked, enrol again' };
  }

  private async revokeFamily(trx: Transaction<ControllerTables>, familyId: string, now: number): Promise<void> {
    await trx.updateTable('refresh_tokens').set({ revoked_at: now }).where('family_id', '=', familyId).where('revoked_at', 'is', null).execute();
  }

  private async issue(
    trx: Transaction<ControllerTables>,
    subject: string,
    roles: string[],
    chain: { familyId: string; tenant: string; fromDirectory: boolean; chainExpiresAt: number | null },
    authMethod: string,
    now: number,
  ): Promise<TokenPair> {
    const accessToken = await this.tokens.mintAccessToken({ subject, roles, authMethod, tenant: chain.tenant });
    const refreshToken = secret(REFRESH_TOKEN_PREFIX);
    const refreshExpiresAt = Math.min(now + REFRESH_TOKEN_TTL_S * 1000, chain.chainExpiresAt ?? Infinity);
    await trx
      .insertInto('refresh_tokens')
      .values({
        token_hash: sha256(refreshToken),
        family_id: chain.familyId,
        subject,
        roles: JSON.stringify(roles),
        created_at: now,
        expires_at: refreshExpiresAt,
        used_at: null,
        revoked_at: null,
        tenant: chain.tenant,
        from_directory: chain.fromDirectory ? 1 : 0,
        chain_expires_at: chain.chainExpiresAt,
        successor_hash: null,
        successor_sealed: null,
      })
      .execute();
    return { accessToken, refreshToken, refreshExpiresAt: Math.floor(refreshExpiresAt / 1000), subject, roles, tenant: chain.tenant };
  }
}

/** AES-256-GCM under a key derived from the spent refresh token: only its holder can open the pair. */
function sealKey(token: string): Buffer {
  return Buffer.from(hkdfSync('sha256', token, 'switchboard-refresh-successor', 'v1', 32));
}

function seal(pair: TokenPair, token: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealKey(token), iv);
  const body = Buffer.concat([cipher.update(JSON.stringify(pair), 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}

function unseal(sealed: string, token: string): TokenPair {
  const raw = Buffer.from(sealed, 'base64url');
  const decipher = createDecipheriv('aes-256-gcm', sealKey(token), raw.subarray(0, 12));
  decipher.setAuthTag(raw.subarray(12, 28));
  return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as TokenPair;
}
