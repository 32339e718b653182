/**
 * The keychain stand-in where no keychain service exists (headless Linux, CI): one file,
 * <data-dir>/secrets/secrets.enc (0600), each value sealed with AES-256-GCM under a key derived
 * with scrypt from a passphrase (SWITCHBOARD_SECRETS_PASSPHRASE) or, without one, from this
 * machine's secret: a random 32-byte file (0600) mixed with /etc/machine-id where readable, so
 * a copied data dir does not open on another machine. The machine secret is already 256 random
 * bits, so it goes through HKDF, not scrypt: stretching only helps low-entropy passphrases, and
 * scrypt would add ~100 ms to every gateway and controller start. The secret's name is the GCM
 * additional data: a sealed value cannot be moved to another name.
 *
 * Several processes share the file (a running gateway, `switchboard secrets rotate`): it is
 * re-read whenever it changed on disk, before every read and before every write.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, scryptSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';

interface Sealed {
  iv: string;
  tag: string;
  data: string;
}

interface FileContent {
  version: 1;
  kdf: { name: 'scrypt'; salt: string; N: number; r: number; p: number; source: 'passphrase' | 'machine' } | { name: 'hkdf-sha256'; salt: string; source: 'machine' };
  /** A sealed known value: tells a wrong passphrase from a damaged entry. */
  check: Sealed;
  entries: Record<string, Sealed>;
}

const SCRYPT = { N: 1 << 15, r: 8, p: 1 };
const CHECK_TEXT = 'switchboard-secrets-v1';

/** The store cannot be opened or a value cannot be read; messages never contain values. */
export class SecretStoreError extends Error {
  override name = 'SecretStoreError';
}

export class EncryptedFileBackend {
  readonly kind = 'encrypted-file';
  private readonly path: string;
  private key: Buffer | undefined;
  /** The salt the key was derived with: a file re-read with the same salt keeps the key. */
  private keySalt: string | undefined;
  private content: FileContent | undefined;
  /** mtime, size and inode of the file last read; another value means another process wrote it. */
  private seen: string | undefined;

  constructor(
    private readonly dir: string,
    private readonly passphrase: string | undefined,
  ) {
    this.path = join(dir, 'secrets.enc');
  }

  private machineSecret(): Buffer {
    const file = join(this.dir, 'machine.key');
    if (!existsSync(file)) {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      writeFileAtomic(file, randomBytes(32).toString('base64'), 0o600);
    }
    tighten(file);
    let machineId = '';
    for (const p of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
      try {
        machineId = readFileSync(p, 'utf8').trim();
        break;
      } catch {
        // not on this system
      }
    }
    return Buffer.concat([Buffer.from(readFileSync(file, 'utf8').trim(), 'base64'), Buffer.from(machineId)]);
  }

  private load(): FileContent {
    const source = this.passphrase ? 'passphrase' : 'machine';
    if (!existsSync(this.path)) {
      if (this.content && this.seen === undefined) return this.content;
      const salt = randomBytes(16);
      this.key = this.derive(source === 'passphrase' ? { name: 'scrypt', ...SCRYPT, source } : { name: 'hkdf-sha256', source }, salt);
      this.keySalt = salt.toString('base64');
      const kdf: FileContent['kdf'] = source === 'passphrase' ? { name: 'scrypt', salt: this.keySalt, ...SCRYPT, source } : { name: 'hkdf-sha256', salt: this.keySalt, source };
      this.content = { version: 1, kdf, check: seal(this.key, CHECK_TEXT, ''), entries: {} };
      this.seen = undefined;
      return this.content;
    }
    tighten(this.path);
    const st = statSync(this.path);
    const stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
    if (this.content && this.seen === stamp) return this.content;
    let parsed: FileContent;
    try {
      parsed = JSON.parse(readFileSync(this.path, 'utf8')) as FileContent;
    } catch {
      throw new SecretStoreError(`${this.path} is damaged (not JSON)`);
    }
    if (parsed.kdf.source === 'passphrase' && !this.passphrase) {
      throw new SecretStoreError('the secrets file is sealed with a passphrase: set SWITCHBOARD_SECRETS_PASSPHRASE');
    }
    if (!this.key || this.keySalt !== parsed.kdf.salt) {
      this.key = this.derive(parsed.kdf, Buffer.from(parsed.kdf.salt, 'base64'));
      this.keySalt = parsed.kdf.salt;
    }
    try {
      open(this.key, parsed.check, '');
    } catch {
      this.key = undefined;
      throw new SecretStoreError(parsed.kdf.source === 'passphrase' ? 'wrong secrets passphrase (SWITCHBOARD_SECRETS_PASSPHRASE)' : 'the secrets file was sealed on another machine or with another machine key');
    }
    this.content = parsed;
    this.seen = stamp;
    return parsed;
  }

  private derive(kdf: { name: 'scrypt'; N: number; r: number; p: number; source: 'passphrase' | 'machine' } | { name: 'hkdf-sha256'; source: 'machine' }, salt: Buffer): Buffer {
    const material = kdf.source === 'passphrase' ? Buffer.from(this.passphrase!, 'utf8') : this.machineSecret();
    if (kdf.name === 'hkdf-sha256') return Buffer.from(hkdfSync('sha256', material, salt, 'switchboard-secrets-file-v1', 32));
    return scryptSync(material, salt, 32, { N: kdf.N, r: kdf.r, p: kdf.p, maxmem: 64 * 1024 * 1024 });
  }

  get(name: string): string | undefined {
    const c = this.load();
    const sealed = c.entries[name];
    if (!sealed) return undefined;
    try {
      return open(this.key!, sealed, name);
    } catch {
      throw new SecretStoreError(`secret "${name}" cannot be decrypted (damaged or moved)`);
    }
  }

  set(name: string, value: string): void {
    const c = this.load();
    c.entries[name] = seal(this.key!, value, name);
    this.save();
  }

  delete(name: string): boolean {
    const c = this.load();
    if (!(name in c.entries)) return false;
    delete c.entries[name];
    this.save();
    return true;
  }

  private save(): void {
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    writeFileAtomic(this.path, JSON.stringify(this.content, null, 1), 0o600);
    const st = statSync(this.path);
    this.seen = `${st.mtimeMs}:${st.size}:${st.ino}`;
  }
}

function seal(key: Buffer, value: string, name: string): Sealed {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(name, 'utf8'));
  const data = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
  return { iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
}

function open(key: Buffer, sealed: Sealed, name: string): string {
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(sealed.iv, 'base64'));
  decipher.setAAD(Buffer.from(name, 'utf8'));
  decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
  return Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8');
}

/** Secrets files are 0600 whatever created them. */
function tighten(path: string): void {
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
}
