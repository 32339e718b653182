/**
 * `switchboard up` (what `npm start` runs): the org controller and a gateway together on embedded
 * defaults — SQLite and generated keys in the data dir, the shipped role profiles, a small sample
 * directory — with the local gateway enrolled with the local controller under `--role`. Everything
 * lives in the data dir, so a second `up` resumes the same state. `--gateway-only` is the gateway
 * alone (the old behaviour); `--controller URL` enrols with a remote org server instead.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { addDataDirOption, CliError, loadContext, parsePort, parseUrl } from '../cli-support.js';
import { addGatewayFlags } from './gateway.js';
import { lockDataDir } from '../data-dir-lock.js';
import { runGateway, stopOnSignals, type GatewayFlags, type RunningGateway } from '../run-gateway.js';
import { DEFAULT_CONTROLLER_PORT, runController, type RunningController } from '../../controller/run.js';
import { DirectoryImportError, importDirectory } from '../../controller/directory/import.js';
import { StorageConfigError } from '../../controller/storage/database.js';
import { ProfileError } from '../../controller/profiles/catalog.js';
import { PolicyConfigError } from '../../controller/policy/evaluator.js';
import { resolveControllerLink } from '../../gateway/bundles/controller-link-config.js';
import { ENROLMENT_FILE, EnrolledTokenProvider, EnrolmentError, enrolGateway } from '../../gateway/bundles/enrolled-token.js';
import { gooseEnv, renderEnv } from '../../installers/goose/env.js';
import { gooseBaseUrl } from '../../installers/goose/provider-file.js';
import { PROVIDER_ID } from '../../installers/goose/paths.js';

export const DEFAULT_UP_ROLE = 'engineering';
const DEFAULT_GOOSE_MODEL = 'anthropic/claude-sonnet-4';

export interface UpFlags extends GatewayFlags {
  role?: string;
  controllerPort?: string;
  controller?: string;
  code?: string;
  gatewayOnly?: boolean;
}

export interface RunningUp {
  gateway: RunningGateway;
  /** The embedded controller (absent with --gateway-only or --controller URL). */
  controller?: RunningController;
  controllerUrl?: string;
  role: string;
  subject?: string;
  stop(): Promise<void>;
}

/** The shipped sample org (repo root from source and from dist/). */
export function sampleDirectoryFile(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const candidates = [join(here, '..', '..', 'installers', 'org', 'sample-directory.yaml'), join(here, '..', '..', '..', 'installers', 'org', 'sample-directory.yaml')];
  return candidates.find((c) => existsSync(c)) ?? candidates[0]!;
}

interface StoredEnrolment {
  controllerUrl?: string;
  subject?: string;
  roles?: string[];
  refreshExpiresAt?: number;
}

function storedEnrolment(dataDir: string): StoredEnrolment | undefined {
  const file = join(dataDir, ENROLMENT_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StoredEnrolment;
  } catch {
    return undefined;
  }
}

function stillValid(e: StoredEnrolment): boolean {
  return typeof e.refreshExpiresAt === 'number' && e.refreshExpiresAt - 60 > Date.now() / 1000;
}

function asCliError(err: unknown): unknown {
  if (err instanceof StorageConfigError || err instanceof ProfileError || err instanceof PolicyConfigError || err instanceof EnrolmentError || err instanceof DirectoryImportError) {
    return new CliError(err.message);
  }
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new CliError(`controller port is already in use (choose another with --controller-port, or stop the other Switchboard)`);
  return err;
}

/** The embedded controller, seeded and with this gateway enrolled under `role` (reused when still valid). */
async function startLocalOrg(dataDir: string, flags: UpFlags, role: string): Promise<{ controller: RunningController; subject: string }> {
  const controller = await runController({
    dataDir,
    port: flags.controllerPort !== undefined ? parsePort(flags.controllerPort) : DEFAULT_CONTROLLER_PORT,
    dbUrl: process.env.SWITCHBOARD_CONTROLLER_DB,
    logLevel: 'warn',
  });
  try {
    const { services } = controller;
    if (!services.profiles.roles().includes(role)) {
      throw new CliError(`--role "${role}" has no profile (known roles: ${services.profiles.roles().join(', ')})`);
    }
    const sample = sampleDirectoryFile();
    // Only the sample's own ids are created or updated; an org imported on top is left alone.
    const sampleText = readFileSync(sample, 'utf8');
    await importDirectory(sampleText, 'yaml', sample, services.directory);
    // Enrol as the sample person of that role who has a manager, so approvals can escalate.
    const nodes = (parseYaml(sampleText) as { nodes: Array<{ id: string; kind: string; roles?: string[]; manager?: string }> }).nodes;
    const person = nodes.find((n) => n.kind === 'person' && n.roles?.includes(role) && n.manager);
    const subject = person?.id ?? `gateway:local-${role}`;

    const stored = storedEnrolment(dataDir);
    // The local controller may listen on another port than last time: the gateway refuses an
    // enrolment made with another controller URL, so enrol again against this one.
    let reusable = Boolean(stored && stored.controllerUrl === controller.url && stored.subject === subject && stored.roles?.includes(role) && stillValid(stored));
    if (reusable) {
      // The controller database may have been reset since: prove the enrolment still works.
      reusable = await new EnrolledTokenProvider(dataDir, controller.url).token().then(() => true, () => false);
    }
    if (!reusable) {
      const { code } = await services.enrolment.createCode({ subject, roles: [role], ttlSeconds: 600, createdBy: 'switchboard up' });
      await enrolGateway(controller.url, code, dataDir);
    }
    return { controller, subject };
  } catch (err) {
    await controller.stop();
    throw asCliError(err);
  }
}

/** Starts everything `up` runs, holding the data dir's lock until stop(); the CLI action and the tests both call this. */
export async function startUp(flags: UpFlags): Promise<RunningUp> {
  const release = lockDataDir(loadContext(flags).dataDir.root);
  try {
    const up = await startUpLocked(flags);
    const stop = up.stop;
    return { ...up, stop: () => stop().finally(release) };
  } catch (err) {
    release();
    throw err;
  }
}

async function startUpLocked(flags: UpFlags): Promise<RunningUp> {
  const { dataDir } = loadContext(flags);
  const roleFlag = flags.role;
  if (roleFlag !== undefined && !/^[a-z][a-z0-9_-]{0,63}$/.test(roleFlag)) throw new CliError(`--role must be a role name like "finance" (got "${roleFlag}")`);
  if (flags.gatewayOnly && (flags.controller || flags.controllerPort)) throw new CliError('--gateway-only runs no controller: drop --controller / --controller-port');

  if (flags.gatewayOnly) {
    const gateway = await runGateway(flags, { demoWhenNoKey: true });
    return { gateway, role: roleFlag ?? DEFAULT_UP_ROLE, stop: () => gateway.stop() };
  }

  if (flags.controller) {
    const url = parseUrl('--controller', flags.controller);
    const stored = storedEnrolment(dataDir.root);
    let roles = stored?.controllerUrl === url && stored && stillValid(stored) ? stored.roles : undefined;
    let subject = stored?.subject;
    if (!roles || (flags.code && flags.code.trim())) {
      if (!flags.code) throw new CliError(`not enrolled with ${url}: pass --code <one-time code> (your admin runs \`switchboard controller enrol-code\`)`);
      try {
        ({ roles, subject } = await enrolGateway(url, flags.code.trim(), dataDir.root));
      } catch (err) {
        throw asCliError(err);
      }
    }
    const role = roleFlag ?? roles[0] ?? DEFAULT_UP_ROLE;
    if (!roles.includes(role)) throw new CliError(`this gateway is enrolled for ${roles.join(', ')}, not "${role}"`);
    const gateway = await runGateway(flags, {
      demoWhenNoKey: true,
      link: { controller: resolveControllerLink({ url }), identity: { role, ...(subject ? { userId: subject } : {}) } },
    });
    return { gateway, controllerUrl: url, role, ...(subject ? { subject } : {}), stop: () => gateway.stop() };
  }

  const role = roleFlag ?? DEFAULT_UP_ROLE;
  const { controller, subject } = await startLocalOrg(dataDir.root, flags, role);
  let gateway: RunningGateway;
  try {
    gateway = await runGateway(flags, {
      demoWhenNoKey: true,
      link: { controller: resolveControllerLink({ url: controller.url }), identity: { role, userId: subject } },
    });
  } catch (err) {
    await controller.stop();
    throw err;
  }
  return {
    gateway,
    controller,
    controllerUrl: controller.url,
    role,
    subject,
    async stop() {
      // Gateway first: its audit shipper and bundle sync still talk to the controller while closing.
      await gateway.stop();
      await controller.stop();
    },
  };
}

/** What `up` prints once everything listens. */
export function upBanner(up: RunningUp): string {
  const { gateway } = up;
  const token = gateway.server.services.localToken;
  // The role's own default model: a fixed one could be outside the role's allowlist or tiers.
  const model = up.controller?.services.profiles.get(up.role)?.models.default ?? DEFAULT_GOOSE_MODEL;
  const env = renderEnv(gooseEnv({ provider: 'openai', gatewayUrl: gateway.url, token, model }), 'sh').trimEnd();
  return [
    '',
    `Switchboard gateway:  ${gateway.url}${gateway.demo ? '   (offline demo upstream: set OPENROUTER_API_KEY for real models)' : ''}`,
    `Local token:          ${token}`,
    up.controllerUrl ? `Controller:           ${up.controllerUrl}${up.controller ? ' (embedded, SQLite)' : ''}` : 'Controller:           none (--gateway-only)',
    `Role:                 ${up.role}${up.subject ? ` (enrolled as ${up.subject})` : ''}`,
    '',
    'Goose settings (written for you by `switchboard goose install --role ' + up.role + '`):',
    `  GOOSE_PROVIDER: ${PROVIDER_ID}      # custom_providers/${PROVIDER_ID}.json`,
    `  base_url:       ${gooseBaseUrl(gateway.url)}`,
    `  headers:        Authorization: Bearer ${token}`,
    `  GOOSE_MODEL:    ${model}`,
    ...(up.controllerUrl ? [`  GOOSE_ALLOWLIST: ${up.controllerUrl}/api/v1/goose/allowlist/${up.role}`] : []),
    'Or, for one shell:',
    ...env.split('\n').map((l) => `  ${l}`),
    '',
    'Try it:',
    `  curl -si ${gateway.url}/v1/chat/completions -H "Authorization: Bearer ${token}" \\`,
    `    -H "Content-Type: application/json" -d '{"model":"${model}","messages":[{"role":"user","content":"Mail jane.doe@acme.com about invoice 42"}]}'`,
    ...(gateway.demo ? ['  (the x-switchboard-demo-received header shows what the model received after masking)'] : []),
    'Check everything: switchboard doctor        Stop: Ctrl-C',
    '',
  ].join('\n');
}

export function registerUpCommand(program: Command): void {
  addDataDirOption(
    addGatewayFlags(
      program
        .command('up')
        .description('Start the controller and a gateway together on embedded defaults (SQLite, generated keys, sample org); no cloud key needed'),
    )
      .option('--role <role>', `role the local gateway is enrolled under (default ${DEFAULT_UP_ROLE})`)
      .option('--controller-port <port>', `port of the embedded controller (default ${DEFAULT_CONTROLLER_PORT})`)
      .option('--controller <url>', 'enrol with this remote org controller instead of running one')
      .option('--code <code>', 'one-time enrolment code for --controller (needed the first time)')
      .option('--gateway-only', 'run the gateway alone, as `switchboard gateway` with the offline demo upstream'),
  )
    .addHelpText('after', `
State (keys, controller.db, gateway.db, enrolment, local token) lives in --data-dir; a second
\`up\` on the same data dir resumes it. Ctrl-C stops the gateway, then the controller.`)
    .action(async (flags: UpFlags) => {
      const up = await startUp(flags);
      process.stderr.write(upBanner(up));
      stopOnSignals(up.stop);
    });
}
