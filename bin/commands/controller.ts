/**
 * `switchboard controller` (run the org controller), `controller enrol-code`, `controller
 * admin-token`, and `switchboard directory import`. All work on the controller's database
 * (SQLite under --data-dir, or PostgreSQL with --db) and keys (under --data-dir).
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { Command } from 'commander';
import { loadOidcConfigFile, OidcConfigError } from '../../controller/auth/oidc/config.js';
import { addDataDirOption, CliError, loadContext, parsePort, type CommonOptions } from '../cli-support.js';
import { DEFAULT_CONTROLLER_PORT, runController } from '../../controller/run.js';
import { CONTROLLER_AUDIENCE, DEFAULT_ISSUER, createControllerServices, type ControllerServices } from '../../controller/services.js';
import { SigningKeys } from '../../controller/auth/signing-keys.js';
import { StorageConfigError } from '../../controller/storage/database.js';
import { ProfileError } from '../../controller/profiles/catalog.js';
import { PolicyConfigError } from '../../controller/policy/evaluator.js';
import { DirectoryImportError, importDirectory } from '../../controller/directory/import.js';
import { AccessTokens, MAX_ACCESS_TOKEN_TTL_S } from '../../controller/auth/access-tokens.js';
import { DEFAULT_ENROLMENT_CODE_TTL_S, MAX_ENROLMENT_CODE_TTL_S } from '../../controller/auth/enrolment.js';
import { ADMIN_ROLE } from '../../controller/route-auth.js';
import { enrolmentRoles, RoleChoiceError } from '../../controller/auth/enrolment-roles.js';
import { TenantConfigError, loadOrCreateTenant } from '../../controller/auth/tenant.js';

interface DbFlags extends CommonOptions {
  db?: string;
  tenant?: string;
}

const DB_HELP = 'database: postgres://user@host:5432/db[?schema=name], or a SQLite file (default <data-dir>/controller.db; env SWITCHBOARD_CONTROLLER_DB)';

const TENANT_HELP = 'tenant this controller serves; fixed in the data dir on first use (default "default"; env SWITCHBOARD_TENANT)';

function addDbOption(cmd: Command): Command {
  return addDataDirOption(cmd.option('--db <url>', DB_HELP).option('--tenant <id>', TENANT_HELP));
}

const tenantOf = (flags: { tenant?: string }) => flags.tenant ?? process.env.SWITCHBOARD_TENANT;

/** "90", "90s", "15m", "24h", "7d" → seconds. */
export function parseDuration(flag: string, value: string, maxSeconds: number): number {
  const m = /^(\d+)\s*([smhd]?)$/.exec(value.trim());
  if (!m) throw new CliError(`${flag} must be a duration like 900, 15m, 24h or 7d (got "${value}")`);
  const seconds = Number(m[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  if (seconds <= 0 || seconds > maxSeconds) throw new CliError(`${flag} must be between 1 second and ${maxSeconds} seconds (got "${value}")`);
  return seconds;
}

/** Opens the controller's services for a one-shot command; user-caused failures become CliErrors. */
async function withServices<T>(flags: DbFlags, run: (s: ControllerServices) => Promise<T>): Promise<T> {
  const { dataDir } = loadContext(flags);
  let services: ControllerServices;
  try {
    services = await createControllerServices({ dataDir: dataDir.root, dbUrl: flags.db ?? process.env.SWITCHBOARD_CONTROLLER_DB, tenant: tenantOf(flags) });
  } catch (err) {
    throw asCliError(err);
  }
  try {
    return await run(services);
  } finally {
    await services.close();
  }
}

function asCliError(err: unknown): unknown {
  if (err instanceof StorageConfigError || err instanceof ProfileError || err instanceof PolicyConfigError || err instanceof DirectoryImportError || err instanceof TenantConfigError) {
    return new CliError(err.message);
  }
  return err;
}

/** Reads the TLS pair; a missing or unreadable file is a clear one-line error, never a stack. */
function readTlsFiles(certPath: string, keyPath: string): { cert: Buffer; key: Buffer } {
  const read = (flag: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new CliError(`${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  };
  return { cert: read('--tls-cert', certPath), key: read('--tls-key', keyPath) };
}

const collect = (value: string, previous: string[]) => [...previous, ...value.split(',').map((v) => v.trim()).filter(Boolean)];

export function registerControllerCommands(program: Command): void {
  const controller = program
    .command('controller')
    .description('Run the org controller (directory, role profiles, policy evaluation, enrolment), or manage it')
    .addHelpText('after', `
With no subcommand, runs \`serve\`: switchboard controller [--host 127.0.0.1] [--port 8788] [--db URL] [--data-dir DIR]
(see \`switchboard controller serve --help\` for every option).`);

  addDbOption(
    controller
      .command('serve', { isDefault: true })
      .description('Run the controller HTTP service (the default when no subcommand is given)')
      .option('--host <host>', 'address to bind', '127.0.0.1')
      .option('--port <port>', 'port to listen on', String(DEFAULT_CONTROLLER_PORT))
      .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent', 'info')
      .option('--audit-retention-days <days>', 'delete audit events older than this many days', '90')
      .option('--oidc <file>', 'YAML file of trusted OIDC issuers for `switchboard login` (docs/identity.md)')
      .option('--tls-cert <file>', 'serve HTTPS with this PEM certificate (chain)')
      .option('--tls-key <file>', 'private key (PEM) of --tls-cert')
      .option('--mesh-lease-ms <ms>', 'how long a delivered mesh task stays leased to its worker without progress (docs/agent-mesh.md)', '60000'),
  )
    .addHelpText('after', `
Signing keys are created on first run in the secret store (\`switchboard secrets list\`:
signing.access-tokens, signing.bundles); older controller-keys.json files are moved in.
Role profiles: policies/profiles/*.yaml, overridden by <data-dir>/profiles/*.yaml.
API description: GET /openapi.json. Get a first admin token with \`switchboard controller admin-token\`.`)
    .action(async (flags: DbFlags & { host: string; port: string; logLevel: string; auditRetentionDays: string; oidc?: string; tlsCert?: string; tlsKey?: string; meshLeaseMs: string }) => {
      const { dataDir } = loadContext(flags);
      const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
      if (!levels.includes(flags.logLevel)) throw new CliError(`--log-level must be one of ${levels.join(', ')} (got "${flags.logLevel}")`);
      const retentionDays = Number(flags.auditRetentionDays);
      if (!Number.isInteger(retentionDays) || retentionDays < 1) throw new CliError(`--audit-retention-days must be a whole number of days >= 1 (got "${flags.auditRetentionDays}")`);
      let oidc;
      try {
        oidc = flags.oidc ? loadOidcConfigFile(flags.oidc) : undefined;
      } catch (err) {
        if (err instanceof OidcConfigError) throw new CliError(err.message);
        throw err;
      }
      if (Boolean(flags.tlsCert) !== Boolean(flags.tlsKey)) throw new CliError('--tls-cert and --tls-key go together');
      const tls = flags.tlsCert && flags.tlsKey ? readTlsFiles(flags.tlsCert, flags.tlsKey) : undefined;
      const leaseMs = Number(flags.meshLeaseMs);
      if (!Number.isInteger(leaseMs) || leaseMs < 100) throw new CliError(`--mesh-lease-ms must be a whole number of milliseconds >= 100 (got "${flags.meshLeaseMs}")`);
      let running;
      try {
        running = await runController({
          ...(oidc ? { oidc } : {}),
          ...(tls ? { tls } : {}),
          dataDir: dataDir.root,
          host: flags.host,
          port: parsePort(flags.port),
          dbUrl: flags.db ?? process.env.SWITCHBOARD_CONTROLLER_DB,
          tenant: tenantOf(flags),
          logLevel: flags.logLevel as 'info',
          audit: { retentionDays },
          mesh: { leaseMs },
        });
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EADDRINUSE') throw new CliError(`port ${flags.port} on ${flags.host} is already in use (choose another with --port)`);
        if (code === 'EADDRNOTAVAIL') throw new CliError(`cannot bind ${flags.host}: no such local address`);
        throw asCliError(err);
      }
      const stop = () => {
        void running.stop().then(() => process.exit(0));
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });

  addDbOption(
    controller
      .command('enrol-code')
      .description('Create a one-time enrolment code that a gateway or agent exchanges for tokens (POST /api/v1/enrol)')
      .requiredOption('--subject <id>', 'who the tokens will speak for: a person id in the directory, or e.g. gateway:alice-laptop')
      .option('--role <role>', 'role to grant (repeat or comma-separate); default: the person\'s roles in the directory', collect, [] as string[])
      .option('--ttl <duration>', `how long the code stays valid (max ${MAX_ENROLMENT_CODE_TTL_S / 86400}d)`, `${DEFAULT_ENROLMENT_CODE_TTL_S / 3600}h`)
      .option('--json', 'print {code, subject, roles, expiresAt} as JSON'),
  ).action(async (flags: EnrolCodeFlags) => {
    process.stdout.write(await enrolCodeCommand(flags));
  });

  addDataDirOption(
    controller
      .command('admin-token')
      .description('Print a short-lived admin access token signed with the local controller keys (bootstrap)')
      .option('--subject <id>', 'subject of the token', 'admin:local')
      .option('--ttl <duration>', 'token lifetime (max 30m)', '15m')
      .option('--tenant <id>', TENANT_HELP),
  )
    .addHelpText('after', `
Use it as "Authorization: Bearer <token>" against the controller running on the same data dir,
e.g. to create enrolment codes through POST /api/v1/enrol-codes. Anyone who can read the
secret signing.access-tokens can mint such tokens: keep the data dir and the keychain private.`)
    .action(async (flags: AdminTokenFlags) => {
      process.stdout.write(await adminTokenCommand(flags));
    });

  const directory = program.command('directory').description('Manage the org directory held by the controller');
  addDbOption(
    directory
      .command('import')
      .description('Create or update directory nodes (org, department, team, person, role) from a YAML or CSV file')
      .argument('<file>', 'a .yaml/.yml file with a "nodes:" list, or a .csv file with a header row')
      .option('--format <format>', 'yaml or csv (default: from the file extension)'),
  )
    .addHelpText('after', `
YAML: nodes: [{ id, kind, name, parent?, email?, manager?, roles?: [..], attributes?: {..} }]
CSV:  header id,kind,name,parent,email,manager,roles[,attr.<name>...]; roles separated by ";"
Kinds: org, department, team, person, role. manager and roles apply to persons only.
Nothing is written unless the whole file is valid. Format reference: docs/controller.md.`)
    .action(async (file: string, flags: DirectoryImportFlags) => {
      process.stdout.write(await directoryImportCommand(file, flags));
    });
}

type EnrolCodeFlags = DbFlags & { subject: string; role: string[]; ttl: string; json?: boolean };
type AdminTokenFlags = CommonOptions & { subject: string; ttl: string; tenant?: string };
type DirectoryImportFlags = DbFlags & { format?: string };

/** `controller enrol-code`: returns what to print on stdout (the code, or JSON). */
export async function enrolCodeCommand(flags: EnrolCodeFlags): Promise<string> {
  const ttlSeconds = parseDuration('--ttl', flags.ttl, MAX_ENROLMENT_CODE_TTL_S);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$/.test(flags.subject)) throw new CliError(`--subject "${flags.subject}" may only hold letters, digits and _ . @ : -`);
  const badRole = flags.role.find((r) => !/^[a-z][a-z0-9_-]{0,63}$/.test(r));
  if (badRole) throw new CliError(`--role "${badRole}" must be lower-case letters, digits, _ or -`);
  const created = await withServices(flags, async (s) => {
    let roles: string[];
    try {
      roles = await enrolmentRoles(s, flags.subject, flags.role);
    } catch (err) {
      if (err instanceof RoleChoiceError) throw new CliError(flags.role.length ? `--role: ${err.message}` : `give --role: ${err.message}`);
      throw err;
    }
    return s.enrolment.createCode({ subject: flags.subject, roles, ttlSeconds, createdBy: 'cli' });
  });
  if (flags.json) return `${JSON.stringify(created)}\n`;
  process.stderr.write(`one-time code for ${created.subject} (tenant ${created.tenant}, roles: ${created.roles.join(', ')}), valid until ${new Date(created.expiresAt * 1000).toISOString()}\n`);
  return `${created.code}\n`;
}

/** `controller admin-token`: a short-lived admin JWT from the data dir's keys (no database needed). */
export async function adminTokenCommand(flags: AdminTokenFlags): Promise<string> {
  const ttlSeconds = parseDuration('--ttl', flags.ttl, MAX_ACCESS_TOKEN_TTL_S);
  const { dataDir } = loadContext(flags);
  let tenant: string;
  try {
    tenant = loadOrCreateTenant(dataDir.root, tenantOf(flags));
  } catch (err) {
    throw asCliError(err);
  }
  const tokens = new AccessTokens(await SigningKeys.loadOrCreate(dataDir.root), { issuer: DEFAULT_ISSUER, audience: CONTROLLER_AUDIENCE, tenant });
  const minted = await tokens.mintAccessToken({ subject: flags.subject, roles: [ADMIN_ROLE], ttlSeconds, authMethod: 'admin-cli' });
  return `${minted.token}\n`;
}

/** `directory import <file>`: validates the whole file, then writes it in one transaction. */
export async function directoryImportCommand(file: string, flags: DirectoryImportFlags): Promise<string> {
  const format = flags.format ?? ({ '.yaml': 'yaml', '.yml': 'yaml', '.csv': 'csv' } as Record<string, string>)[extname(file).toLowerCase()];
  if (format !== 'yaml' && format !== 'csv') throw new CliError(`cannot tell the format of ${file}; pass --format yaml or --format csv`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const result = await withServices(flags, async (s) => {
    try {
      return await importDirectory(text, format, file, s.directory);
    } catch (err) {
      throw asCliError(err);
    }
  });
  return `imported ${file}: ${result.created} created, ${result.updated} updated\n`;
}
