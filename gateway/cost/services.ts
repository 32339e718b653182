/**
 * Builds the cost layer for one gateway: model registry (with tier rules from config, and the
 * models of local upstreams as tier `local`), usage store with retention, budget ledger, and
 * the dependencies of the budgetCheck/budgetReserve/meter stages.
 */
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config.js';
import type { GatewayDb } from '../../platform/sqlite.js';
import { loadModelRegistry, type ModelRegistry, type TierRules } from '../../models/registry.js';
import { UsageStore } from '../../models/usage-store.js';
import { resolveCostConfig, type CostConfig } from './config.js';
import { BudgetLedger } from './ledger.js';
import { BudgetResolver } from '../stages/budget.js';

export interface CostServices {
  config: CostConfig;
  registry: ModelRegistry;
  store: UsageStore;
  ledger: BudgetLedger;
  resolver: BudgetResolver;
  /** Deletes records past retention now; also runs every RETENTION_INTERVAL_MS. */
  purgeExpired(): number;
  close(): void;
}

const DAY_MS = 86_400_000;
const RETENTION_INTERVAL_MS = 6 * 3_600_000;

/** Configured tier rules plus the fallback models of local (Ollama) upstreams as tier `local`. */
export function tierRulesFor(gateway: GatewayConfig, config: CostConfig): TierRules {
  const fromUpstreams = gateway.upstreams.filter((u) => u.kind === 'ollama' && u.fallbackModel).map((u) => u.fallbackModel!);
  return { ...config.tiers, localModels: [...config.tiers.localModels, ...fromUpstreams] };
}

export function createCostServices(opts: { config: GatewayConfig; dataDir: string; db: GatewayDb; logger: Logger }): CostServices {
  const config = resolveCostConfig(opts.config.cost);
  const registry = loadModelRegistry({ dataDir: opts.dataDir, rules: tierRulesFor(opts.config, config) });
  const store = new UsageStore(opts.db, {
    onWriteError: (err, lost) => opts.logger.error({ err, lost }, 'usage records could not be written'),
  });
  const ledger = new BudgetLedger((scope, since) => store.spentSince(scope, since));
  const resolver = new BudgetResolver(config.budgets);

  const purgeExpired = () => {
    if (config.usageRetentionDays === 0) return 0;
    const removed = store.purgeOlderThan(Date.now() - config.usageRetentionDays * DAY_MS);
    if (removed > 0) opts.logger.info({ removed, retentionDays: config.usageRetentionDays }, 'usage records past retention deleted');
    return removed;
  };
  purgeExpired();
  const timer = setInterval(() => {
    try {
      purgeExpired();
    } catch (err) {
      opts.logger.error({ err }, 'usage retention purge failed');
    }
  }, RETENTION_INTERVAL_MS);
  timer.unref();

  return {
    config,
    registry,
    store,
    ledger,
    resolver,
    purgeExpired,
    close() {
      clearInterval(timer);
      store.close();
    },
  };
}
