/**
 * `switchboard rules check <file>`: validate a downshift rule file.
 * `switchboard rules simulate --rules <file>`: replay recorded usage against candidate rules
 * and show, per rule, what it would catch, cost and save. With `--org`, the replay runs on the
 * controller over the whole org's recorded usage (POST /api/v1/rules/simulate).
 * `switchboard rules show|publish --role R`: read or replace a role's rules on the controller
 * (they travel to gateways in the signed bundle).
 * `switchboard rules active`: which rules this gateway applies (local override, bundle, none).
 */
import { existsSync } from 'node:fs';
import { stringify as toYaml } from 'yaml';
import { Option, type Command } from 'commander';
import { addDataDirOption, CliError, isoTimeFlag, loadContext, type CommonOptions } from '../cli-support.js';
import { DownshiftRulesError, loadDownshiftRulesFile } from '../../policies/downshift/load.js';
import { MODEL_TIERS, type BudgetState, type DownshiftRuleSet } from '../../policies/downshift/types.js';
import { loadModelRegistry, type ModelRegistry } from '../../models/registry.js';
import { UsageStore } from '../../models/usage-store.js';
import { DownshiftRules, registryLookup } from '../../policies/downshift/rules.js';
import { openGatewayDb } from '../../platform/sqlite.js';
import { parseWindow, simulateRules } from '../../policies/downshift/simulate.js';
import { formatSimulationTable } from '../../gateway/simulate/report-format.js';
import { localRulesFile, type DownshiftRulesSource } from '../../gateway/downshift/active-rules.js';
import type { DownshiftConfig } from '../../gateway/downshift/config.js';
import { readStoredBundle, storedBundlePaths } from '../../gateway/bundles/stored-bundle.js';
import type { PolicyBundleBody } from '../../policies/bundle/body.js';
import { readEnrolment } from '../../gateway/bundles/enrolled-token.js';
import { controllerClient, type ControllerClientFlags } from '../controller-client.js';

function loadRules(file: string): DownshiftRuleSet {
  try {
    return loadDownshiftRulesFile(file);
  } catch (err) {
    if (err instanceof DownshiftRulesError) throw new CliError(err.message);
    throw err;
  }
}

/** Things that are valid but probably not meant: unknown models, a tier map pointing at the wrong tier. */
export function ruleWarnings(set: DownshiftRuleSet, registry: ModelRegistry): string[] {
  const warnings: string[] = [];
  for (const tier of MODEL_TIERS) {
    const model = set.tiers?.[tier];
    if (!model) continue;
    const info = registry.get(model);
    if (!info) warnings.push(`tiers.${tier}: model "${model}" is not in the model registry (prices unknown)`);
    else if (info.tier !== tier) warnings.push(`tiers.${tier}: model "${model}" is tier ${info.tier} in the registry`);
  }
  set.rules.forEach((rule, i) => {
    const model = rule.action.model;
    if (model && !registry.get(model)) warnings.push(`rules[${i}].action.model: "${model}" is not in the model registry (prices unknown)`);
  });
  return warnings;
}

const parseSince = (value: string): string => {
  if (parseWindow(value) === undefined) throw new CliError(`--since must be a number and a unit m, h, d or w, e.g. 30d or 12h (got "${value}")`);
  return value;
};

export interface SimulateFlags extends CommonOptions, ControllerClientFlags {
  rules: string;
  since: string;
  format: 'table' | 'json';
  assumeBudget: BudgetState;
  tenant?: string;
  org?: boolean;
  role?: string;
  from?: string;
  to?: string;
}

/** The controller's answer to POST /api/v1/rules/simulate (CONTRACT-13). */
export interface OrgSimulation {
  from: string;
  to: string;
  requests: number;
  baselineCostUsd: number;
  simulatedCostUsd: number;
  savingsUsd: number;
  downshifted: number;
  passedThrough: number;
  unpriced: number;
  caveat: string;
  byRule: Array<{ rule: string; requests: number; changed: number; actualUsd: number; projectedUsd: number; savingsUsd: number; models: Record<string, number> }>;
}

export function formatOrgSimulation(r: OrgSimulation, role: string | undefined): string {
  const money = (v: number) => `${v < 0 ? '-' : ''}$${Math.abs(v).toFixed(4)}`;
  const head = ['rule', 'caught', 'changed', 'actual', 'projected', 'saving'];
  const rows = r.byRule.map((b) => [b.rule, String(b.requests), String(b.changed), money(b.actualUsd), money(b.projectedUsd), money(b.savingsUsd)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [
    `Replayed ${r.requests} org requests${role ? ` of role ${role}` : ''} from ${r.from} to ${r.to} (${r.passedThrough} cache hits or failed requests kept as they were).`,
    '',
    line(head),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
    '',
    `Total: actual ${money(r.baselineCostUsd)}, projected ${money(r.simulatedCostUsd)}, saving ${money(r.savingsUsd)}; ${r.downshifted} requests would change.`,
    ...(r.unpriced > 0 ? [`${r.unpriced} requests used a model without a registry price; they are kept at their actual cost.`] : []),
    `Caveat: ${r.caveat}`,
    '',
  ].join('\n');
}

/** `rules simulate --org`: the replay over the org's ledger, run by the controller. */
export async function runOrgSimulation(file: string, flags: SimulateFlags): Promise<string> {
  const set = loadRules(file);
  const from = isoTimeFlag('--from', flags.from);
  const to = isoTimeFlag('--to', flags.to);
  const body = { rules: set, assumeBudget: flags.assumeBudget, ...(flags.role ? { role: flags.role } : {}), ...(from ? { from } : {}), ...(to ? { to } : {}) };
  const report = await controllerClient(flags).json<OrgSimulation>('POST', '/api/v1/rules/simulate', body);
  return flags.format === 'json' ? `${JSON.stringify({ rulesFile: file, ...report }, null, 2)}\n` : formatOrgSimulation(report, flags.role);
}

export interface RoleRulesFlags extends ControllerClientFlags {
  role: string;
  expectedVersion?: number;
  format?: 'yaml' | 'json';
}

interface RoleRulesAnswer {
  role: string;
  version: number;
  rules: DownshiftRuleSet;
  bundleVersion: string;
  source?: 'file' | 'api';
  updatedAt?: string;
  updatedBy?: string | null;
}

const ROLE = /^[a-z][a-z0-9_.:-]{0,63}$/;
const parseRole = (value: string): string => {
  if (!ROLE.test(value)) throw new CliError(`--role must be a role id such as finance (got "${value}")`);
  return value;
};
const parseVersion = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`--expected-version must be a positive integer (got "${value}")`);
  return n;
};

/** `rules publish`: validates the file here, then PUTs it; the controller validates again and signs the new bundle. */
export async function publishRules(file: string, flags: RoleRulesFlags, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const set = loadRules(file);
  const client = controllerClient(flags, env);
  const answer = await client.json<{ role: string; version: number; bundleVersion: string }>('PUT', `/api/v1/profiles/${flags.role}/downshift-rules`, {
    rules: set,
    ...(flags.expectedVersion !== undefined ? { expectedVersion: flags.expectedVersion } : {}),
  });
  return `published ${set.rules.length} downshift rules for ${answer.role}: profile version ${answer.version}, bundle ${answer.bundleVersion}; gateways apply it at their next bundle sync\n`;
}

/** `rules show`: the role's rules on the controller, as YAML (ready for `rules publish`) or JSON. */
export async function showRules(flags: RoleRulesFlags, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const a = await controllerClient(flags, env).json<RoleRulesAnswer>('GET', `/api/v1/profiles/${flags.role}/downshift-rules`);
  if (flags.format === 'json') return `${JSON.stringify(a, null, 2)}\n`;
  const by = a.source === 'api' ? `published${a.updatedBy ? ` by ${a.updatedBy}` : ''}${a.updatedAt ? ` at ${a.updatedAt}` : ''}` : 'from the profile file';
  return `# downshift rules of role ${a.role}: profile version ${a.version}, bundle ${a.bundleVersion}, ${by}\n${toYaml(a.rules)}`;
}

export interface ActiveRules {
  source: DownshiftRulesSource;
  /** The override file, or the bundle file. */
  file?: string;
  role: string;
  bundleVersion?: string;
  rules: number;
  /** Why the bundle's rules are not used, when there is a bundle but it cannot be read. */
  problem?: string;
}

/** Which downshift rules a gateway on this data dir applies (gateway/downshift/active-rules.ts has the precedence). */
export async function activeRules(dataDir: string, downshift: DownshiftConfig | undefined, role: string): Promise<ActiveRules> {
  const local = localRulesFile(dataDir, downshift);
  if (local) return { source: 'local-file', file: local, role, rules: loadRules(local).rules.length };
  const paths = storedBundlePaths(dataDir, role);
  const file = paths.file;
  try {
    const verified = await readStoredBundle(paths, role);
    if (!verified) return { source: 'none', role, rules: 0 };
    const set = (verified.bundle as unknown as PolicyBundleBody).profile.downshift;
    return { source: set ? 'bundle' : 'none', file, role, bundleVersion: verified.version, rules: set?.rules.length ?? 0 };
  } catch (err) {
    return { source: 'none', file, role, rules: 0, problem: (err as Error).message };
  }
}

/** The role a gateway serves: the configured one if the enrolment grants it, else the first granted role. */
export function servedRole(enrolled: readonly string[] | undefined, configured: string): string {
  if (!enrolled || enrolled.length === 0 || enrolled.includes(configured)) return configured;
  return enrolled[0]!;
}

export function formatActiveRules(a: ActiveRules): string {
  switch (a.source) {
    case 'local-file':
      return `local override ${a.file} (${a.rules} rules); it wins over the bundle's rules for role ${a.role} — remove it to use them`;
    case 'bundle':
      return `rules of the signed bundle ${a.bundleVersion} for role ${a.role} (${a.rules} rules)`;
    default:
      return a.problem
        ? `no downshift rules: the bundle for ${a.role} cannot be read (${a.problem})`
        : a.bundleVersion
          ? `no downshift rules: the bundle ${a.bundleVersion} for ${a.role} carries none`
          : `no downshift rules: no local rule file and no bundle for role ${a.role} yet`;
  }
}

export function registerRulesCommands(program: Command): void {
  const rules = program.command('rules').description("Check, simulate, show and publish downshift rules; see which rules this gateway applies");

  addDataDirOption(
    rules
      .command('check')
      .description('Validate a downshift rule file (schema and references); errors name the key')
      .argument('<file>', 'YAML rule file, e.g. policies/downshift/default-rules.yaml'),
  ).action((file: string, flags: CommonOptions) => {
    process.stdout.write(checkRules(file, flags));
  });

  addDataDirOption(
    rules
      .command('simulate')
      .description('Replay recorded usage against candidate rules: per rule, requests caught, projected cost and saving')
      .argument('[rules-file]', 'candidate rule file (YAML); or pass --rules')
      .option('--rules <file>', 'candidate rule file (YAML)')
      .option('--org', "replay the whole org's recorded usage on the controller instead of this gateway's")
      .option('--controller <url>', 'with --org: controller URL (default: controller.url in switchboard.yaml)')
      .option('--token-env <name>', 'with --org: environment variable holding a controller token (admin or cost owner)')
      .option('--role <role>', "with --org: only this role's requests")
      .option('--from <time>', 'with --org: start, a date or ISO date-time (default 30 days before --to)')
      .option('--to <time>', 'with --org: end, exclusive (default now)')
      .option('--since <window>', 'how far back to replay: 90m, 12h, 30d, 2w', parseSince, '30d')
      .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
      .addOption(
        new Option('--assume-budget <state>', 'budget pressure assumed for rules with a budget condition').choices(['ok', 'soft', 'hard']).default('ok'),
      )
      .option('--tenant <id>', 'only this tenant\'s usage')
      .addHelpText('after', '\nQuality is not simulated: the projection assumes the substitute model answers as well.'),
  ).action(async (file: string | undefined, flags: SimulateFlags) => {
    const rulesFile = file ?? flags.rules;
    if (!rulesFile) throw new CliError('give the candidate rule file: `switchboard rules simulate <rules-file>` (or --rules <file>)');
    if (!flags.org && (flags.role !== undefined || flags.from !== undefined || flags.to !== undefined || flags.controller !== undefined)) {
      throw new CliError('--role, --from, --to and --controller go with --org (for this gateway\'s own usage use --since and --tenant)');
    }
    process.stdout.write(flags.org ? await runOrgSimulation(rulesFile, flags) : runSimulation({ ...flags, rules: rulesFile }));
  });

  const controllerOptions = (cmd: Command) =>
    addDataDirOption(
      cmd
        .requiredOption('--role <role>', 'role whose profile holds the rules', parseRole)
        .option('--controller <url>', 'controller URL (default: controller.url in the config, else the enrolled controller)')
        .option('--token-env <name>', 'environment variable holding a controller token of an admin or cost owner (default: your `switchboard login` sign-in)'),
    );

  controllerOptions(
    rules
      .command('show')
      .description("Print a role's downshift rules as the controller holds them (YAML, ready to edit and publish)")
      .addOption(new Option('--format <format>', 'output format').choices(['yaml', 'json']).default('yaml')),
  ).action(async (flags: RoleRulesFlags) => {
    process.stdout.write(await showRules(flags));
  });

  controllerOptions(
    rules
      .command('publish')
      .description("Replace a role's downshift rules on the controller; it signs a new bundle that gateways pick up at their next sync")
      .argument('<file>', 'YAML rule file (validated here first, then by the controller)')
      .option('--expected-version <n>', 'refuse if the profile is no longer at this version (from `rules show`)', parseVersion),
  ).action(async (file: string, flags: RoleRulesFlags) => {
    process.stdout.write(await publishRules(file, flags));
  });

  addDataDirOption(
    rules
      .command('active')
      .description("Which downshift rules this machine's gateway applies: a local override file, the signed bundle's, or none")
      .option('--role <role>', "role the gateway serves (default: the enrolled role, else gateway.identity.role)", parseRole),
  ).action(async (flags: CommonOptions & { role?: string }) => {
    const { dataDir, config } = loadContext(flags);
    const role = flags.role ?? servedRole(readEnrolment(dataDir.root)?.roles, config.gateway.identity.role);
    process.stdout.write(`${formatActiveRules(await activeRules(dataDir.root, config.gateway.downshift, role))}\n`);
  });
}

/** The `rules check` command's output; throws CliError listing every problem. */
export function checkRules(file: string, flags: CommonOptions): string {
  const { dataDir } = loadContext(flags);
  const set = loadRules(file);
  const enabled = set.rules.filter((r) => r.enabled !== false).length;
  const warnings = ruleWarnings(set, loadModelRegistry({ dataDir: dataDir.root }));
  return `${file}: OK (${set.rules.length} rules, ${enabled} enabled)\n${warnings.map((w) => `  warning: ${w}\n`).join('')}`;
}

/** The `rules simulate` command's output for these flags. */
export function runSimulation(flags: SimulateFlags): string {
  const { dataDir } = loadContext(flags);
  const set = loadRules(flags.rules);
  const dbFile = dataDir.path('gateway.db');
  if (!existsSync(dbFile)) throw new CliError(`no recorded usage in ${dataDir.root} (gateway.db does not exist yet; run the gateway first or pass --data-dir)`);
  const registry = loadModelRegistry({ dataDir: dataDir.root });
  const db = openGatewayDb(dbFile);
  try {
    const store = new UsageStore(db);
    const now = Date.now();
    const since = now - (parseWindow(flags.since) ?? 0);
    const report = simulateRules(
      store.records({ since, until: now, ...(flags.tenant ? { tenantId: flags.tenant } : {}) }),
      new DownshiftRules(set, registryLookup(registry)),
      (id) => registry.get(id),
      { assumeBudget: flags.assumeBudget },
    );
    if (flags.format === 'json') {
      return `${JSON.stringify({ rulesFile: flags.rules, since: new Date(since).toISOString(), until: new Date(now).toISOString(), ...report }, null, 2)}\n`;
    }
    return formatSimulationTable(report, flags.since) + ruleWarnings(set, registry).map((w) => `warning: ${w}\n`).join('');
  } finally {
    db.close();
  }
}
