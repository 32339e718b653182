/**
 * The OS keychain through @napi-rs/keyring (macOS Keychain, Windows Credential Manager, the
 * Secret Service on Linux desktops). On Linux only the Secret Service is used: the kernel
 * keyring it could fall back to does not survive a reboot. Loaded lazily: when the native
 * binary or the service is missing, `openKeychain()` says why and the caller uses the file.
 */
import { createRequire } from 'node:module';

interface KeyringEntry {
  setPassword(value: string): void;
  getPassword(): string | null;
  deletePassword(): boolean;
}
interface KeyringModule {
  Entry: new (service: string, account: string, options?: { linux?: { store?: 'secret-service' | 'keyutils' } }) => KeyringEntry;
}

export const KEYCHAIN_SERVICE = 'switchboard';

export class KeychainBackend {
  readonly kind = 'keychain';
  constructor(
    private readonly keyring: KeyringModule,
    /** Distinguishes data dirs sharing one keychain. */
    private readonly scope: string,
  ) {}

  private entry(name: string): KeyringEntry {
    return new this.keyring.Entry(KEYCHAIN_SERVICE, `${this.scope}:${name}`, { linux: { store: 'secret-service' } });
  }

  get(name: string): string | undefined {
    return this.entry(name).getPassword() ?? undefined;
  }

  set(name: string, value: string): void {
    this.entry(name).setPassword(value);
  }

  delete(name: string): boolean {
    return this.entry(name).deletePassword();
  }
}

/** The keychain when it loads and answers a probe write; else the reason it cannot be used. */
export function openKeychain(scope: string): KeychainBackend | { unavailable: string } {
  let keyring: KeyringModule;
  try {
    keyring = createRequire(import.meta.url)('@napi-rs/keyring') as KeyringModule;
  } catch (err) {
    return { unavailable: `the keychain binding did not load (${(err as Error).message.split('\n')[0]})` };
  }
  const backend = new KeychainBackend(keyring, scope);
  try {
    backend.set('.probe', 'ok');
    const ok = backend.get('.probe') === 'ok';
    backend.delete('.probe');
    if (!ok) return { unavailable: 'the keychain did not return what was stored' };
  } catch (err) {
    return { unavailable: `no keychain service (${(err as Error).message})` };
  }
  return backend;
}
