/**
 * Which OIDC issuers the controller trusts, and how their claims map to a person, roles and a
 * department. Read from the `oidc:` file given to `switchboard controller serve --oidc FILE`
 * (YAML), validated here.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { Ajv } from 'ajv';

export interface OidcIssuerConfig {
  /** Short name users pick with `switchboard login --issuer NAME`. */
  name: string;
  /** Issuer URL; discovery is `<issuer>/.well-known/openid-configuration`. */
  issuer: string;
  /** The public (native) client id `switchboard login` uses at this IdP. */
  clientId: string;
  /** ID token audiences accepted (normally just the client id). */
  audiences: string[];
  /** Scopes asked for at sign-in. */
  scopes: string[];
  /** Which claim names the person: matched to a directory person's email, or to a person id. */
  person: { claim: string; match: 'email' | 'id' };
  /**
   * Where roles come from: the directory (the person's roles there), or a groups claim mapped
   * through `groupRoles` (group → role). The person must exist in the directory either way.
   */
  roles: { from: 'directory' } | { from: 'groups'; claim: string; groupRoles: Record<string, string> };
  /** Allow an http:// issuer (tests, a loopback IdP); never for a real deployment. */
  allowInsecure: boolean;
  /**
   * Client id the web console signs in with (authorization code + PKCE, redirect to
   * `<consoleUrl>/console/auth/oidc/callback`); default: `clientId`.
   */
  consoleClientId: string;
}

export interface OidcConfig {
  issuers: OidcIssuerConfig[];
  /** How long one sign-in lasts before `switchboard login` is needed again (hours). */
  sessionHours: number;
  /** Lifetime of each agent JWT minted from a sign-in (seconds, ≤ 1800). */
  accessTokenSeconds: number;
  /** Tenant written into minted tokens. */
  tenant: string;
  /**
   * The controller's public URL as browsers reach it (the console's OIDC redirect goes there).
   * Default: the origin the sign-in request came to.
   */
  consoleUrl?: string;
}

const issuerSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'issuer', 'clientId'],
  properties: {
    name: { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,63}$' },
    issuer: { type: 'string', pattern: '^https?://' },
    clientId: { type: 'string', minLength: 1 },
    audiences: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    scopes: { type: 'array', items: { type: 'string', pattern: '^[\\x21-\\x7e]+$' } },
    person: {
      type: 'object',
      additionalProperties: false,
      required: ['claim', 'match'],
      properties: { claim: { type: 'string', minLength: 1 }, match: { enum: ['email', 'id'] } },
    },
    roles: {
      oneOf: [
        { type: 'object', additionalProperties: false, required: ['from'], properties: { from: { const: 'directory' } } },
        {
          type: 'object',
          additionalProperties: false,
          required: ['from', 'groupRoles'],
          properties: {
            from: { const: 'groups' },
            claim: { type: 'string', minLength: 1 },
            groupRoles: { type: 'object', minProperties: 1, additionalProperties: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,63}$' } },
          },
        },
      ],
    },
    allowInsecure: { type: 'boolean' },
    consoleClientId: { type: 'string', minLength: 1 },
  },
} as const;

export const oidcConfigSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['issuers'],
  properties: {
    issuers: { type: 'array', minItems: 1, items: issuerSchema },
    sessionHours: { type: 'number', exclusiveMinimum: 0, maximum: 24 * 30 },
    accessTokenSeconds: { type: 'integer', minimum: 60, maximum: 1800 },
    tenant: { type: 'string', minLength: 1, maxLength: 128 },
    consoleUrl: { type: 'string', pattern: '^https?://[^/?#]+/?$' },
  },
} as const;

export class OidcConfigError extends Error {
  override name = 'OidcConfigError';
}

type IssuerInput = Partial<OidcIssuerConfig> & Pick<OidcIssuerConfig, 'name' | 'issuer' | 'clientId'> & { roles?: { from: 'directory' } | { from: 'groups'; claim?: string; groupRoles: Record<string, string> } };

const validate = new Ajv({ allErrors: false }).compile(oidcConfigSchema);

/** Checks an `oidc:` section and fills defaults. */
export function parseOidcConfig(input: unknown, where = 'oidc config'): OidcConfig {
  if (!validate(input)) {
    const e = validate.errors?.[0];
    throw new OidcConfigError(`${where}: ${e?.instancePath || '(root)'} ${e?.message ?? 'is invalid'}`);
  }
  const raw = input as { issuers: IssuerInput[]; sessionHours?: number; accessTokenSeconds?: number; tenant?: string; consoleUrl?: string };
  const names = new Set<string>();
  const issuers = raw.issuers.map((i): OidcIssuerConfig => {
    if (names.has(i.name)) throw new OidcConfigError(`${where}: issuer name "${i.name}" is used twice`);
    names.add(i.name);
    const insecure = i.allowInsecure === true;
    if (i.issuer.startsWith('http://') && !insecure) {
      throw new OidcConfigError(`${where}: issuer "${i.name}" is http://; use https, or set allowInsecure: true for a test IdP`);
    }
    const roles = i.roles ?? { from: 'directory' as const };
    return {
      name: i.name,
      issuer: i.issuer.replace(/\/+$/, ''),
      clientId: i.clientId,
      audiences: i.audiences ?? [i.clientId],
      scopes: i.scopes ?? ['openid', 'email', 'profile'],
      person: i.person ?? { claim: 'email', match: 'email' },
      roles: roles.from === 'groups' ? { from: 'groups', claim: roles.claim ?? 'groups', groupRoles: roles.groupRoles } : { from: 'directory' },
      allowInsecure: insecure,
      consoleClientId: i.consoleClientId ?? i.clientId,
    };
  });
  return {
    issuers,
    sessionHours: raw.sessionHours ?? 12,
    accessTokenSeconds: raw.accessTokenSeconds ?? 15 * 60,
    tenant: raw.tenant ?? 'default',
    ...(raw.consoleUrl ? { consoleUrl: raw.consoleUrl.replace(/\/+$/, '') } : {}),
  };
}

export function loadOidcConfigFile(path: string): OidcConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new OidcConfigError(`cannot read OIDC config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new OidcConfigError(`${path} is not valid YAML: ${(err as Error).message}`);
  }
  const section = doc && typeof doc === 'object' && 'oidc' in doc ? (doc as { oidc: unknown }).oidc : doc;
  return parseOidcConfig(section, path);
}
