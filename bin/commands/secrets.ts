/**
 * `switchboard secrets set|get|rotate|list|delete|import-tenant-key`. Values come from stdin or
 * from an environment variable named with --from-env — never from the command line, where
 * `ps` and shell history would show them.
 */
import type { Command } from 'commander';
import { addDataDirOption, CliError, loadContext, type CommonOptions } from '../cli-support.js';
import { SecretStore, SecretStoreError } from '../../platform/secrets/store.js';

interface ValueFlags extends CommonOptions {
  fromEnv?: string;
}

async function readValue(flags: ValueFlags, what: string): Promise<string> {
  if (flags.fromEnv) {
    const value = process.env[flags.fromEnv];
    if (!value) throw new CliError(`environment variable ${flags.fromEnv} is not set or empty`);
    return value;
  }
  if (process.stdin.isTTY) process.stderr.write(`Type or paste ${what}, then press Enter and Ctrl-D:\n`);
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One trailing newline is the terminal's or echo's, not part of the secret.
  const value = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (value === '') throw new CliError(`no value on stdin for ${what} (pipe it in, or use --from-env VAR)`);
  return value;
}

function openStore(flags: CommonOptions): SecretStore {
  const { dataDir } = loadContext(flags);
  try {
    return SecretStore.open({ dataDir: dataDir.root });
  } catch (err) {
    if (err instanceof SecretStoreError) throw new CliError(err.message);
    throw err;
  }
}

function run<T>(work: () => T | Promise<T>): Promise<T> {
  return Promise.resolve()
    .then(work)
    .catch((err: unknown) => {
      if (err instanceof SecretStoreError) throw new CliError(err.message);
      throw err;
    });
}

function age(ms: number): string {
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

export function registerSecretsCommands(program: Command): void {
  const secrets = program
    .command('secrets')
    .description('Keys and API keys in the OS keychain (or an encrypted file where there is none): set, get, rotate, list')
    .addHelpText('after', `
Names: upstream.<upstream-name> (used when that upstream's env var is unset), tenant.<id>.pseudonym
(versioned; a rotation reaches running gateways within a second), and the ones Switchboard keeps
for itself: gateway.local-token, guard.master, vault.key, signing.access-tokens, signing.bundles,
signin.session-token (older 0600 files are moved in on first run). Without a keychain service (headless Linux, CI)
values go to <data-dir>/secrets/secrets.enc (0600, AES-256-GCM), keyed by SWITCHBOARD_SECRETS_PASSPHRASE
or this machine's secret. SWITCHBOARD_SECRETS_BACKEND=keychain|file|auto chooses. See docs/identity.md.`);

  addDataDirOption(
    secrets.command('set').description('Store a secret; the value is read from stdin or --from-env, never from the command line').argument('<name>').option('--from-env <var>', 'read the value from this environment variable'),
  ).action((name: string, flags: ValueFlags) =>
    run(async () => {
      SecretStore.checkName(name);
      const store = openStore(flags);
      store.set(name, await readValue(flags, name));
      process.stdout.write(`stored ${name} (${store.backendKind})\n`);
    }),
  );

  addDataDirOption(secrets.command('get').description('Print a secret to stdout (for piping into another tool)').argument('<name>')).action((name: string, flags: CommonOptions) =>
    run(() => {
      const value = openStore(flags).get(name);
      if (value === undefined) throw new CliError(`no secret named ${name}`);
      process.stdout.write(`${value}\n`);
    }),
  );

  addDataDirOption(
    secrets
      .command('rotate')
      .description('Replace a secret: keys Switchboard makes (tenant pseudonym keys, guard.master, gateway.local-token) are generated; API keys are read like `set`')
      .argument('<name>')
      .option('--from-env <var>', 'read the new value from this environment variable')
      .option('--stdin', 'read the new value from stdin (for keys that would otherwise be generated)'),
  ).action((name: string, flags: ValueFlags & { stdin?: boolean }) =>
    run(async () => {
      SecretStore.checkRotatable(name);
      const store = openStore(flags);
      const given = flags.fromEnv || flags.stdin || !SecretStore.isGenerated(name) ? await readValue(flags, `the new value of ${name}`) : undefined;
      const info = store.rotate(name, given);
      process.stdout.write(`rotated ${name}${info.version ? ` (now version ${info.version}; ${info.versions} kept for re-identification)` : ''}\n`);
    }),
  );

  addDataDirOption(secrets.command('list').description('Names and ages of stored secrets (never values)').option('--json', 'print JSON')).action((flags: CommonOptions & { json?: boolean }) =>
    run(() => {
      const store = openStore(flags);
      const items = store.list();
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ backend: store.backendKind, fallbackReason: store.fallbackReason ?? null, secrets: items }, null, 2)}\n`);
        return;
      }
      process.stdout.write(`backend: ${store.backendKind}${store.fallbackReason ? ` (${store.fallbackReason})` : ''}\n`);
      if (items.length === 0) process.stdout.write('no secrets stored\n');
      for (const s of items) process.stdout.write(`${s.name}\tupdated ${age(s.updatedAt)} ago${s.version ? `\tversion ${s.version} (${s.versions} kept)` : ''}\n`);
    }),
  );

  addDataDirOption(secrets.command('delete').description('Remove a secret (all versions)').argument('<name>')).action((name: string, flags: CommonOptions) =>
    run(() => {
      const removed = openStore(flags).delete(name);
      process.stdout.write(removed ? `deleted ${name}\n` : `no secret named ${name}\n`);
    }),
  );

  addDataDirOption(
    secrets
      .command('import-tenant-key')
      .description("BYOK: make the tenant's own key (≥ 32 bytes, hex or base64, from stdin or --from-env) the current pseudonymisation key")
      .argument('<tenant>')
      .option('--from-env <var>', 'read the key from this environment variable'),
  ).action((tenant: string, flags: ValueFlags) =>
    run(async () => {
      const store = openStore(flags);
      const info = store.importTenantKey(tenant, await readValue(flags, `the key of tenant ${tenant}`));
      process.stdout.write(`imported the key of tenant ${tenant} as version ${info.version}\n`);
    }),
  );
}
