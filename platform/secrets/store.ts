/**
 * Named secrets — upstream API keys, tenant pseudonymisation keys, the vault key, signing keys —
 * in the OS keychain, or in the encrypted file where there is none. Beside the values, an index
 * (<data-dir>/secrets/index.json, 0600) records names, ages and key versions: never values.
 *
 * Names: `upstream.<name>` (API key of that upstream), `tenant.<id>.pseudonym` (versioned: every
 * rotation or BYOK import adds a version; old versions stay readable, so earlier pseudonyms still
 * re-identify, until they are pruned), and the secrets Switchboard keeps for itself
 * (platform/secrets/managed.ts): `gateway.local-token`, `guard.master`, `vault.key`,
 * `signing.access-tokens`, `signing.bundles`, `signin.session-token`.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';
import { EncryptedFileBackend, SecretStoreError } from './encrypted-file.js';
import { openKeychain } from './keychain.js';

export { SecretStoreError } from './encrypted-file.js';

const NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;
const TENANT_KEY = /^tenant\.([a-z0-9][a-z0-9_-]{0,63})\.pseudonym$/;
/** Secrets the store makes itself on `rotate`; others (API keys) need a new value given. */
const GENERATED = [/^guard\.master$/, /^gateway\.local-token$/, TENANT_KEY];
/** Secrets `rotate` must not replace, and why: a new value would silently break what the old one sealed or signed. */
const NOT_ROTATABLE: Array<[RegExp, string]> = [
  [/^vault\.key$/, 'every vault row is sealed with it, so a new key would make them unreadable'],
  [/^signing\.[a-z0-9._-]+$/, 'signing keys are rotated by the controller itself (staged, old keys keep verifying)'],
  [/^signin\.session-token$/, 'it is replaced by `switchboard login`'],
];
const MIN_KEY_BYTES = 32;

export type BackendChoice = 'auto' | 'keychain' | 'file';

interface Backend {
  readonly kind: string;
  get(name: string): string | undefined;
  set(name: string, value: string): void;
  delete(name: string): boolean;
}

export interface KeyVersion {
  version: number;
  createdAt: number;
  source: 'generated' | 'imported';
  /** When a newer version took over; retired versions only re-identify. */
  retiredAt?: number;
}

interface IndexEntry {
  createdAt: number;
  updatedAt: number;
  versions?: KeyVersion[];
}

interface IndexFile {
  backend: string;
  entries: Record<string, IndexEntry>;
}

export interface SecretInfo {
  name: string;
  createdAt: number;
  updatedAt: number;
  /** Versioned keys: the current version number and how many are kept. */
  version?: number;
  versions?: number;
}

export interface SecretStoreOptions {
  dataDir: string;
  backend?: BackendChoice;
  /** Passphrase for the encrypted file; default SWITCHBOARD_SECRETS_PASSPHRASE. */
  passphrase?: string;
  env?: NodeJS.ProcessEnv;
}

export class SecretStore {
  private readonly indexPath: string;
  /** Why the keychain is not used, when it is not (shown by `secrets list`). */
  readonly fallbackReason: string | undefined;

  private constructor(
    private readonly backend: Backend,
    private readonly dir: string,
    fallbackReason: string | undefined,
  ) {
    this.indexPath = join(dir, 'index.json');
    this.fallbackReason = fallbackReason;
  }

  static open(opts: SecretStoreOptions): SecretStore {
    const env = opts.env ?? process.env;
    const dir = join(opts.dataDir, 'secrets');
    const choice = opts.backend ?? (env.SWITCHBOARD_SECRETS_BACKEND as BackendChoice | undefined) ?? 'auto';
    if (!['auto', 'keychain', 'file'].includes(choice)) throw new SecretStoreError(`secrets backend must be auto, keychain or file (got "${choice}")`);
    const passphrase = opts.passphrase ?? (env.SWITCHBOARD_SECRETS_PASSPHRASE || undefined);
    // An existing store keeps its backend: switching silently would hide every stored secret.
    const recorded = existsSync(join(dir, 'index.json')) ? (JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as IndexFile).backend : undefined;
    const wantKeychain = choice === 'keychain' || (choice === 'auto' && recorded !== 'encrypted-file');
    let reason: string | undefined;
    if (wantKeychain) {
      const scope = createHash('sha256').update(resolve(opts.dataDir)).digest('hex').slice(0, 16);
      const keychain = openKeychain(scope);
      if (!('unavailable' in keychain)) return new SecretStore(keychain, dir, undefined);
      if (choice === 'keychain' || recorded === 'keychain') throw new SecretStoreError(`secrets are kept in the OS keychain, but ${keychain.unavailable}`);
      reason = keychain.unavailable;
    }
    reason ??= choice === 'file' ? 'chosen with SWITCHBOARD_SECRETS_BACKEND=file' : 'this store was created where no keychain service answered';
    return new SecretStore(new EncryptedFileBackend(dir, passphrase), dir, reason);
  }

  get backendKind(): string {
    return this.backend.kind;
  }

  static checkName(name: string): void {
    if (!NAME.test(name)) throw new SecretStoreError(`secret names are lower-case letters, digits, ".", "_" and "-" (e.g. upstream.openrouter); got an invalid name`);
  }

  /** Refuses names whose rotation would break what the current value sealed or signed. */
  static checkRotatable(name: string): void {
    SecretStore.checkName(name);
    const refusal = NOT_ROTATABLE.find(([re]) => re.test(name));
    if (refusal) throw new SecretStoreError(`"${name}" cannot be rotated here: ${refusal[1]}`);
  }

  static isGenerated(name: string): boolean {
    return GENERATED.some((re) => re.test(name));
  }

  get(name: string): string | undefined {
    SecretStore.checkName(name);
    const entry = this.readIndex().entries[name];
    if (entry?.versions) return this.backend.get(versionName(name, entry.versions.at(-1)!.version));
    return this.backend.get(name);
  }

  /** A versioned key's value at one version (re-identifying old pseudonyms). */
  getVersion(name: string, version: number): string | undefined {
    SecretStore.checkName(name);
    const entry = this.readIndex().entries[name];
    if (!entry?.versions?.some((v) => v.version === version)) return undefined;
    return this.backend.get(versionName(name, version));
  }

  versions(name: string): KeyVersion[] {
    return [...(this.readIndex().entries[name]?.versions ?? [])];
  }

  set(name: string, value: string): void {
    SecretStore.checkName(name);
    if (value.length === 0) throw new SecretStoreError('refusing to store an empty secret');
    if (TENANT_KEY.test(name)) {
      this.addVersion(name, checkKeyMaterial(value), 'imported');
      return;
    }
    this.backend.set(name, value);
    const index = this.readIndex();
    const now = Date.now();
    index.entries[name] = { createdAt: index.entries[name]?.createdAt ?? now, updatedAt: now };
    this.writeIndex(index);
  }

  /** New value for a secret: generated for keys the store makes, else the one given. */
  rotate(name: string, value?: string): SecretInfo {
    SecretStore.checkRotatable(name);
    if (TENANT_KEY.test(name)) {
      this.addVersion(name, value === undefined ? randomKey() : checkKeyMaterial(value), value === undefined ? 'generated' : 'imported');
    } else if (value !== undefined) {
      this.set(name, value);
    } else if (SecretStore.isGenerated(name)) {
      this.set(name, name === 'gateway.local-token' ? `sb-local-${randomBytes(24).toString('base64url')}` : randomKey());
    } else {
      throw new SecretStoreError(`"${name}" is not a key Switchboard generates: give the new value on stdin or with --from-env`);
    }
    return this.list().find((s) => s.name === name)!;
  }

  /** BYOK: a tenant's own pseudonymisation key becomes the current version. */
  importTenantKey(tenantId: string, material: string): SecretInfo {
    const name = `tenant.${tenantId}.pseudonym`;
    if (!TENANT_KEY.test(name)) throw new SecretStoreError('tenant ids are lower-case letters, digits, "_" and "-"');
    this.addVersion(name, checkKeyMaterial(material), 'imported');
    return this.list().find((s) => s.name === name)!;
  }

  /** Deletes retired key versions retired before `before` (their pseudonyms no longer re-identify). */
  pruneRetired(before: number): number {
    const index = this.readIndex();
    let removed = 0;
    for (const [name, entry] of Object.entries(index.entries)) {
      if (!entry.versions) continue;
      const keep = entry.versions.filter((v) => v.retiredAt === undefined || v.retiredAt >= before);
      for (const v of entry.versions) {
        if (!keep.includes(v)) {
          this.backend.delete(versionName(name, v.version));
          removed++;
        }
      }
      entry.versions = keep;
    }
    if (removed > 0) this.writeIndex(index);
    return removed;
  }

  delete(name: string): boolean {
    SecretStore.checkName(name);
    const index = this.readIndex();
    const entry = index.entries[name];
    let deleted = false;
    if (entry?.versions) for (const v of entry.versions) deleted = this.backend.delete(versionName(name, v.version)) || deleted;
    else deleted = this.backend.delete(name);
    if (entry) {
      delete index.entries[name];
      this.writeIndex(index);
    }
    return deleted || Boolean(entry);
  }

  /** Names and ages, never values. */
  list(): SecretInfo[] {
    return Object.entries(this.readIndex().entries)
      .map(([name, e]) => ({
        name,
        createdAt: e.createdAt,
        updatedAt: e.updatedAt,
        ...(e.versions ? { version: e.versions.at(-1)!.version, versions: e.versions.length } : {}),
      }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  private addVersion(name: string, material: string, source: KeyVersion['source']): void {
    const index = this.readIndex();
    const now = Date.now();
    const entry = index.entries[name] ?? { createdAt: now, updatedAt: now, versions: [] };
    const versions = entry.versions ?? [];
    const version = (versions.at(-1)?.version ?? 0) + 1;
    this.backend.set(versionName(name, version), material);
    const last = versions.at(-1);
    if (last && last.retiredAt === undefined) last.retiredAt = now;
    versions.push({ version, createdAt: now, source });
    index.entries[name] = { createdAt: entry.createdAt, updatedAt: now, versions };
    this.writeIndex(index);
  }

  private readIndex(): IndexFile {
    if (!existsSync(this.indexPath)) return { backend: this.backend.kind, entries: {} };
    return JSON.parse(readFileSync(this.indexPath, 'utf8')) as IndexFile;
  }

  private writeIndex(index: IndexFile): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileAtomic(this.indexPath, JSON.stringify({ ...index, backend: this.backend.kind }, null, 2), 0o600);
  }
}

const versionName = (name: string, version: number) => `${name}.v${version}`;
const randomKey = () => randomBytes(MIN_KEY_BYTES).toString('base64url');

/** Imported key material: base64, base64url or hex of at least 32 bytes. */
function checkKeyMaterial(value: string): string {
  const v = value.trim();
  const bytes = /^[0-9a-f]+$/i.test(v) && v.length % 2 === 0 ? v.length / 2 : /^[A-Za-z0-9+/_-]+={0,2}$/.test(v) ? Buffer.from(v, 'base64').length : 0;
  if (bytes < MIN_KEY_BYTES) throw new SecretStoreError(`a tenant key must be at least ${MIN_KEY_BYTES} bytes, as hex or base64`);
  return v;
}

/** Upstream keys from the store for upstreams whose env var is unset, in a copy of env (process.env is never written). */
export function withStoredUpstreamKeys(env: NodeJS.ProcessEnv, upstreams: ReadonlyArray<{ name: string; apiKeyEnv?: string }>, store: SecretStore): NodeJS.ProcessEnv {
  let out: NodeJS.ProcessEnv | undefined;
  for (const u of upstreams) {
    if (!u.apiKeyEnv || env[u.apiKeyEnv]) continue;
    const key = store.get(`upstream.${u.name}`);
    if (key) (out ??= { ...env })[u.apiKeyEnv] = key;
  }
  return out ?? env;
}
