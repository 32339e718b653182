/** `switchboard goose install|uninstall|env` (`setup` = install): wire Goose to the gateway and the org. */
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { addDataDirOption, CliError, loadContext, parseUrl, type CommonOptions } from '../cli-support.js';
import { applyGatewayEnv } from '../gateway-env.js';
import type { GatewayConfig } from '../../gateway/config.js';
import { loadOrCreateLocalToken } from '../../gateway/local-token.js';
import { loadModelRegistry } from '../../models/registry.js';
import { gooseConfigDir } from '../../installers/goose/paths.js';
import { applyGooseSetup, planDiff, planGooseSetup, uninstallGooseSetup, type PlannedFile } from '../../installers/goose/setup.js';
import { allowlistUrl, readEnrolment, switchboardCommand, switchboardExtensionEntries } from '../../installers/goose/extensions.js';
import { SWITCHBOARD_EXTENSIONS } from '../../policies/extensions.js';
import { DEFAULT_CONTROLLER_PORT } from '../../controller/run.js';
import { parseProfileFile, SHIPPED_PROFILES_DIR } from '../../controller/profiles/catalog.js';
import { GooseConfigError } from '../../installers/goose/config-yaml.js';
import { gooseBaseUrl } from '../../installers/goose/provider-file.js';
import { gooseEnv, renderEnv, type EnvProvider, type ShellKind } from '../../installers/goose/env.js';

export const DEFAULT_GOOSE_MODEL = 'anthropic/claude-sonnet-4';

/**
 * The role's default model from its shipped profile (what `switchboard up` prints), else
 * DEFAULT_GOOSE_MODEL: a Goose set to a model the role may not use gets every call refused.
 */
export function roleDefaultModel(role: string | undefined): string {
  if (!role || !/^[a-z][a-z0-9_-]{0,63}$/.test(role)) return DEFAULT_GOOSE_MODEL;
  const file = join(SHIPPED_PROFILES_DIR, `${role}.yaml`);
  if (!existsSync(file)) return DEFAULT_GOOSE_MODEL;
  try {
    return parseProfileFile(file).models?.default ?? DEFAULT_GOOSE_MODEL;
  } catch {
    return DEFAULT_GOOSE_MODEL;
  }
}
export const DEFAULT_GOOSE_FAST_MODEL = 'google/gemini-2.5-flash';

interface ModelFlags {
  gatewayUrl?: string;
  model?: string;
  fastModel?: string;
}

interface SetupFlags extends CommonOptions, ModelFlags {
  role?: string;
  controllerUrl?: string;
  gooseConfigDir?: string;
  dryRun?: boolean;
}

interface EnvFlags extends CommonOptions, ModelFlags {
  provider: string;
  shell: string;
}

const MODEL_ID = /^[\w.:/@+-]{1,200}$/;

function modelId(flag: string, value: string): string {
  if (!MODEL_ID.test(value)) throw new CliError(`${flag} must be a model id like "${DEFAULT_GOOSE_MODEL}" (got "${value}")`);
  return value;
}

/** Where callers reach this gateway: its configured port on loopback (a wildcard bind is still reachable there). */
function localGatewayUrl(gateway: GatewayConfig): string {
  const wildcard = gateway.host === '0.0.0.0' || gateway.host === '::' || gateway.host === '';
  const host = wildcard ? '127.0.0.1' : gateway.host.includes(':') ? `[${gateway.host}]` : gateway.host;
  return `http://${host}:${gateway.port}`;
}

function resolveGatewayUrl(flags: ModelFlags, gateway: GatewayConfig): string {
  if (!flags.gatewayUrl) return localGatewayUrl(gateway);
  const url = parseUrl('--gateway-url', flags.gatewayUrl);
  const parsed = new URL(url);
  // Goose drops the query string of a provider base_url, so one here could never take effect.
  if (parsed.search || parsed.hash) throw new CliError(`--gateway-url must not have a query or fragment (got "${flags.gatewayUrl}")`);
  return url;
}

function describe(file: PlannedFile, base: string): string {
  const name = relative(base, file.path) || file.path;
  if (file.action === 'unchanged') return `  unchanged  ${name}`;
  const backup = file.action === 'update' && file.backupPath ? ` (previous version kept in ${relative(base, file.backupPath)})` : '';
  return `  ${file.action === 'create' ? 'create   ' : 'update   '}  ${name}${backup}`;
}

export function registerGooseCommands(program: Command): void {
  const goose = program.command('goose').description('Point Goose at the local gateway (declarative provider or environment variables)');

  addDataDirOption(
    goose
      .command('install')
      .alias('setup')
      .description("Wire Goose to Switchboard: provider → gateway, Agent Mesh and Privacy Guard extensions, the role's allowlist")
      .option('--role <role>', 'role whose extension allowlist Goose gets (default: the role this gateway is enrolled under, else engineering)')
      .option('--controller-url <url>', 'org controller serving the allowlist (default: controller.url, the enrolment, else http://127.0.0.1:8788)')
      .option('--goose-config-dir <dir>', "Goose's config dir (default: $GOOSE_PATH_ROOT/config, else ~/.config/goose; Windows %APPDATA%\\Block\\goose\\config)")
      .option('--gateway-url <url>', "the gateway's address (default http://127.0.0.1:<configured port>)")
      .option('--model <id>', `main model (GOOSE_MODEL; default: the role's default model, else ${DEFAULT_GOOSE_MODEL})`)
      .option('--fast-model <id>', `fast model for titles and summaries (provider fast_model, default ${DEFAULT_GOOSE_FAST_MODEL}; also sets GOOSE_FAST_MODEL when given)`)
      .option('--dry-run', 'print what would change as a diff and write nothing'),
  )
    .addHelpText(
      'after',
      `
Writes <goose-config-dir>/custom_providers/switchboard.json (mode 0600: it holds the gateway token)
and, in config.yaml: GOOSE_PROVIDER=switchboard, GOOSE_MODEL, GOOSE_ALLOWLIST (the controller's
allowlist for the role) and the extensions ${SWITCHBOARD_EXTENSIONS.map((e) => e.key).join(' and ')}. Every other key, comment and
extension in config.yaml is kept; the file from before Switchboard took over is saved as
config.yaml.bak. Re-running with the same options changes nothing. Undo: switchboard goose uninstall.`,
    )
    .action((flags: SetupFlags) => {
      const { dataDir, config } = loadContext(flags);
      const gateway = applyGatewayEnv(config.gateway, process.env);
      const gatewayUrl = resolveGatewayUrl(flags, gateway);
      const fastModel = modelId('--fast-model', flags.fastModel ?? DEFAULT_GOOSE_FAST_MODEL);
      const token = loadOrCreateLocalToken(dataDir.root);
      const registry = loadModelRegistry({ dataDir: dataDir.root });
      const configDir = flags.gooseConfigDir ?? gooseConfigDir();
      const enrolment = readEnrolment(dataDir.root);
      const role = flags.role ?? enrolment?.roles?.[0] ?? 'engineering';
      if (!/^[a-z][a-z0-9_-]{0,63}$/.test(role)) throw new CliError(`--role must be a role name like "finance" (got "${role}")`);
      const model = modelId('--model', flags.model ?? roleDefaultModel(role));
      const controllerUrl = flags.controllerUrl
        ? parseUrl('--controller-url', flags.controllerUrl)
        : (config.controller?.url ?? enrolment?.controllerUrl ?? `http://127.0.0.1:${DEFAULT_CONTROLLER_PORT}`);

      let plan;
      try {
        plan = planGooseSetup({
          configDir,
          gatewayUrl,
          token,
          model,
          fastModel,
          setFastModelKey: flags.fastModel !== undefined,
          contextLimit: (id) => registry.get(id)?.contextLength,
          extensions: switchboardExtensionEntries(switchboardCommand(), dataDir.root),
          allowlistUrl: allowlistUrl(controllerUrl, role),
        });
      } catch (err) {
        if (err instanceof GooseConfigError) throw new CliError(err.message);
        throw err;
      }

      const out: string[] = [`Goose config dir: ${configDir}   role: ${role}`, describe(plan.providerFile, configDir), describe(plan.configFile, configDir)];
      for (const change of plan.keyChanges) out.push(`    ${change.key}: ${change.from ? 'changed' : 'added'}`);
      if (enrolment?.roles?.length && !enrolment.roles.includes(role)) {
        out.push(`note: the gateway in ${dataDir.root} is enrolled as ${enrolment.roles.join(', ')}: it applies that role's models and allowlist, not ${role}'s. Run \`switchboard up --role ${role}\` to switch.`);
      }
      if (flags.dryRun) {
        const diff = planDiff(plan, token);
        out.push('', diff || '(no changes)', '', 'Dry run: nothing was written.');
      } else {
        try {
          applyGooseSetup(plan);
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          if (e.code === 'EACCES' || e.code === 'EPERM' || e.code === 'EROFS' || e.code === 'ENOTDIR') {
            throw new CliError(`cannot write Goose's config in ${configDir}: ${e.message}`);
          }
          throw err;
        }
        out.push(
          '',
          `Goose now sends model calls to ${gooseBaseUrl(gatewayUrl)}.`,
          `Extensions outside the ${role} allowlist are removed from every model call by the gateway.`,
          'Start everything with `switchboard up`, then run `goose session`. Check with `switchboard doctor`.',
          'See docs/goose.md for what still bypasses the gateway (recipes with their own provider, planner, tool shim, editor model, dictation).',
        );
      }
      process.stdout.write(`${out.join('\n')}\n`);
    });

  addDataDirOption(
    goose
      .command('uninstall')
      .description('Undo `goose install`: restore config.yaml from its backup and remove the provider file')
      .option('--goose-config-dir <dir>', "Goose's config dir (default: $GOOSE_PATH_ROOT/config, else ~/.config/goose)"),
  ).action((flags: CommonOptions & { gooseConfigDir?: string }) => {
    const configDir = flags.gooseConfigDir ?? gooseConfigDir();
    const result = uninstallGooseSetup(configDir, SWITCHBOARD_EXTENSIONS.map((e) => e.key));
    const out = [`Goose config dir: ${configDir}`];
    if (result.restored) out.push(`  restored   ${relative(configDir, result.restored)} from config.yaml.bak`);
    for (const key of result.cleaned) out.push(`  removed    ${key} from config.yaml`);
    for (const file of result.removed) out.push(`  deleted    ${relative(configDir, file)}`);
    if (out.length === 1) out.push('  nothing to undo: Switchboard was not installed here');
    process.stdout.write(`${out.join('\n')}\n`);
  });

  addDataDirOption(
    goose
      .command('env')
      .description("Print environment variables that point Goose's built-in openai or openrouter provider at the gateway")
      .option('--provider <name>', 'openai (OPENAI_HOST + OPENAI_BASE_PATH) or openrouter (OPENROUTER_HOST)', 'openai')
      .option('--shell <kind>', 'sh (bash/zsh), fish or powershell', 'sh')
      .option('--gateway-url <url>', "the gateway's address (default http://127.0.0.1:<configured port>)")
      .option('--model <id>', `main model (GOOSE_MODEL; default: the role's default model, else ${DEFAULT_GOOSE_MODEL})`)
      .option('--fast-model <id>', 'fast model (GOOSE_FAST_MODEL; unset by default)'),
  )
    .addHelpText(
      'after',
      `
Use: eval "$(switchboard goose env)"   (fish: switchboard goose env --shell fish | source)
The output contains the gateway token. The declarative provider from \`switchboard goose setup\`
is the recommended way; these variables are for one-off shells and CI.`,
    )
    .action((flags: EnvFlags) => {
      if (flags.provider !== 'openai' && flags.provider !== 'openrouter') {
        throw new CliError(`--provider must be "openai" or "openrouter" (got "${flags.provider}")`);
      }
      if (flags.shell !== 'sh' && flags.shell !== 'fish' && flags.shell !== 'powershell') {
        throw new CliError(`--shell must be "sh", "fish" or "powershell" (got "${flags.shell}")`);
      }
      const { dataDir, config } = loadContext(flags);
      const gateway = applyGatewayEnv(config.gateway, process.env);
      const vars = gooseEnv({
        provider: flags.provider as EnvProvider,
        gatewayUrl: resolveGatewayUrl(flags, gateway),
        token: loadOrCreateLocalToken(dataDir.root),
        model: modelId('--model', flags.model ?? roleDefaultModel(readEnrolment(dataDir.root)?.roles?.[0])),
        ...(flags.fastModel ? { fastModel: modelId('--fast-model', flags.fastModel) } : {}),
        ...(process.env.NO_PROXY ? { existingNoProxy: process.env.NO_PROXY } : {}),
      });
      const shell = flags.shell as ShellKind;
      process.stdout.write(`# Goose → Switchboard gateway (${flags.provider} provider)\n${renderEnv(vars, shell)}`);
    });
}
