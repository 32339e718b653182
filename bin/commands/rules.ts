/**
 * `switchboard rules check <file>`: validate a downshift rule file.
 * `switchboard rules simulate --rules <file>`: replay recorded usage against candidate rules
 * and show, per rule, what it would catch, cost and save.
 */
import { existsSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { addDataDirOption, CliError, loadContext, type CommonOptions } from '../cli-support.js';
import { DownshiftRulesError, loadDownshiftRulesFile } from '../../policies/downshift/load.js';
import { MODEL_TIERS, type BudgetState, type DownshiftRuleSet } from '../../policies/downshift/types.js';
import { loadModelRegistry, type ModelRegistry } from '../../models/registry.js';
import { UsageStore } from '../../models/usage-store.js';
import { DownshiftRules, registryLookup } from '../../gateway/downshift/rules.js';
import { openGatewayDb } from '../../gateway/store.js';
import { parseWindow, simulateRules } from '../../gateway/simulate/simulate.js';
import { formatSimulationTable } from '../../gateway/simulate/report-format.js';

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

export interface SimulateFlags extends CommonOptions {
  rules: string;
  since: string;
  format: 'table' | 'json';
  assumeBudget: BudgetState;
  tenant?: string;
}

export function registerRulesCommands(program: Command): void {
  const rules = program.command('rules').description('Check downshift rule files and simulate what they would save on recorded usage');

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
      .requiredOption('--rules <file>', 'candidate rule file (YAML)')
      .option('--since <window>', 'how far back to replay: 90m, 12h, 30d, 2w', parseSince, '30d')
      .addOption(new Option('--format <format>', 'output format').choices(['table', 'json']).default('table'))
      .addOption(
        new Option('--assume-budget <state>', 'budget pressure assumed for rules with a budget condition').choices(['ok', 'soft', 'hard']).default('ok'),
      )
      .option('--tenant <id>', 'only this tenant\'s usage')
      .addHelpText('after', '\nQuality is not simulated: the projection assumes the substitute model answers as well.'),
  ).action((flags: SimulateFlags) => {
    process.stdout.write(runSimulation(flags));
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
