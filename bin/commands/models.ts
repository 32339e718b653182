/**
 * `switchboard models list`: the model registry (prices, context, tier) the gateway prices with.
 * `switchboard models refresh`: fetch the upstream's GET /models listing into the data dir.
 */
import { Option, type Command } from 'commander';
import { addDataDirOption, CliError, loadContext, parseUrl, type CommonOptions } from '../cli-support.js';
import { MODEL_TIERS, loadModelRegistry, type ModelInfo, type ModelTier } from '../../models/registry.js';
import { fetchModelListing, ModelListingError, storeModelListing, readModelListing } from '../../models/model-listing.js';
import { OPENROUTER_BASE_URL } from '../../gateway/config.js';
import { resolveCostConfig } from '../../gateway/cost/config.js';
import { tierRulesFor } from '../../gateway/cost/services.js';
import { BudgetConfigError } from '../../policies/budgets.js';
import { registerLocalModelCommands } from './models-local.js';

const perM = (usdPerToken: number | undefined) => (usdPerToken === undefined ? '-' : `${+(usdPerToken * 1e6).toFixed(4)}`);

export function formatModelTable(models: readonly ModelInfo[]): string {
  const head = ['model', 'tier', 'prompt $/M', 'completion $/M', 'cache read $/M', 'context'];
  const rows = models.map((m) => [
    m.id,
    m.tierFrom === 'price' ? m.tier : `${m.tier} (${m.tierFrom})`,
    perM(m.promptUsdPerToken),
    perM(m.completionUsdPerToken),
    perM(m.cacheReadUsdPerToken),
    m.contextLength ? String(m.contextLength) : '-',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

function costConfigOf(flags: CommonOptions) {
  const ctx = loadContext(flags);
  try {
    return { ctx, cost: resolveCostConfig(ctx.config.gateway.cost) };
  } catch (err) {
    if (err instanceof BudgetConfigError) throw new CliError(`${ctx.configFile}: ${err.message}`);
    throw err;
  }
}

export type ModelsListFlags = CommonOptions & { json?: boolean; tier?: ModelTier };

/** Output of `switchboard models list`. */
export function modelsList(flags: ModelsListFlags): string {
  const { ctx, cost } = costConfigOf(flags);
  const registry = loadModelRegistry({ dataDir: ctx.dataDir.root, rules: tierRulesFor(ctx.config.gateway, cost) });
  const list = registry.list().filter((m) => !flags.tier || m.tier === flags.tier);
  const src = registry.source;
  if (flags.json) return `${JSON.stringify({ source: src, models: list }, null, 2)}\n`;
  const from = src.kind === 'snapshot' ? `shipped snapshot taken ${src.takenAt}` : `refreshed ${src.takenAt} (${src.path})`;
  return `${formatModelTable(list)}\n\n${list.length} models; prices from the ${from}. Update with \`switchboard models refresh\`.\n`;
}

export type ModelsRefreshFlags = CommonOptions & { upstream?: string };

/** Does `switchboard models refresh`; returns its one-line report. */
export async function modelsRefresh(flags: ModelsRefreshFlags): Promise<string> {
  const ctx = loadContext(flags);
  const configured = ctx.config.gateway.upstreams.find((u) => u.kind === 'openrouter');
  const baseUrl = flags.upstream ? parseUrl('--upstream', flags.upstream) : (configured?.baseUrl ?? OPENROUTER_BASE_URL);
  const apiKeyEnv = flags.upstream ? undefined : configured?.apiKeyEnv;
  const apiKey = apiKeyEnv ? process.env[apiKeyEnv] : undefined;
  let fetched;
  try {
    fetched = await fetchModelListing(baseUrl, apiKey ? { apiKey } : {});
  } catch (err) {
    if (err instanceof ModelListingError) {
      const current = readModelListing(ctx.dataDir.root).source;
      throw new CliError(`models refresh: ${err.message}; still using the ${current.kind === 'snapshot' ? 'shipped snapshot' : 'listing refreshed'} ${current.takenAt}`);
    }
    throw err;
  }
  if (fetched.models.length === 0) throw new CliError(`models refresh: ${baseUrl}/models listed no model with a price; nothing stored`);
  const file = storeModelListing(ctx.dataDir.root, fetched.json, `${baseUrl}/models`);
  const skipped = fetched.skipped.length > 0 ? ` (${fetched.skipped.length} without a usable price left out)` : '';
  return `Stored ${fetched.models.length} models${skipped} from ${baseUrl}/models in ${file}\n`;
}

export function registerModelsCommands(program: Command): void {
  const models = program.command('models').description('Model registry: prices, context lengths and tiers used for metering and budgets');
  registerLocalModelCommands(models);

  addDataDirOption(
    models
      .command('list')
      .description('List known models with price per million tokens, context length and tier')
      .option('--json', 'print JSON (prices in USD per token) instead of a table')
      .addOption(new Option('--tier <tier>', 'only models of this tier').choices([...MODEL_TIERS])),
  ).action((flags: ModelsListFlags) => {
    process.stdout.write(modelsList(flags));
  });

  addDataDirOption(
    models
      .command('refresh')
      .description("Fetch the upstream's GET /models listing and store it under the data dir (the shipped snapshot stays the fallback)")
      .option('--upstream <url>', 'base URL of an OpenRouter-compatible API (default: the first openrouter upstream in the config)'),
  ).action(async (flags: ModelsRefreshFlags) => {
    process.stdout.write(await modelsRefresh(flags));
  });
}
