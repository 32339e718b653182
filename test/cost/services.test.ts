import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { defaultGatewayConfig } from '../../gateway/config.js';
import { openGatewayDb } from '../../platform/sqlite.js';
import { UsageStore } from '../../models/usage-store.js';
import { createCostServices } from '../../gateway/cost/services.js';
import { BudgetConfigError } from '../../policies/budgets.js';
import { usageRecord } from './records.js';
import { ConfigError, loadConfigFile } from '../../bin/config.js';
import { writeFileSync } from 'node:fs';

describe('cost services wiring', () => {
  it('purges usage past retention at start, treats Ollama fallback models as local, validates budgets', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-cost-services-'));
    const db = openGatewayDb(join(dir, 'gateway.db'));
    try {
      const seed = new UsageStore(db);
      seed.record(usageRecord({ id: 'old', ts: Date.now() - 40 * 86_400_000 }));
      seed.record(usageRecord({ id: 'recent', ts: Date.now() - 86_400_000 }));
      seed.close();
      const config = {
        ...defaultGatewayConfig(),
        upstreams: [
          { name: 'openrouter', kind: 'openrouter' as const, baseUrl: 'https://openrouter.ai/api/v1' },
          { name: 'laptop', kind: 'ollama' as const, baseUrl: 'http://127.0.0.1:11434/v1', fallbackModel: 'llama3.2:3b' },
        ],
        cost: { usageRetentionDays: 30 },
      };
      const cost = createCostServices({ config, dataDir: dir, db, logger: pino({ level: 'silent' }) });
      try {
        assert.deepEqual([...cost.store.records({ since: 0 })].map((r) => r.id), ['recent']);
        assert.equal(cost.registry.get('llama3.2:3b')?.tier, 'local');
        assert.equal(cost.registry.get('llama3.2:3b')?.completionUsdPerToken, 0);
      } finally {
        cost.close();
      }
      assert.throws(
        () => createCostServices({ config: { ...config, cost: { budgets: { tenant: { daily: { limitUsd: 1, softLimitUsd: 3 } } } } }, dataDir: dir, db, logger: pino({ level: 'silent' }) }),
        (e: unknown) => e instanceof BudgetConfigError && /cost\.budgets\.tenant\.daily\.softLimitUsd \(3\) must not be above limitUsd \(1\)/.test(e.message),
      );
    } finally {
      db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('switchboard.yaml: cost section is validated with errors naming the key', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-cost-config-'));
    try {
      const file = join(dir, 'switchboard.yaml');
      writeFileSync(file, 'gateway:\n  cost:\n    budgets:\n      tenant: { daily: { limitUsd: 10, softLimitUsd: 20 } }\n');
      assert.throws(() => loadConfigFile(file), (e: unknown) => e instanceof ConfigError && /gateway\.cost\.budgets\.tenant\.daily\.softLimitUsd \(20\) must not be above limitUsd \(10\)/.test(e.message));
      writeFileSync(file, 'gateway:\n  cost:\n    usageRetentionDays: -1\n    budgets: { perUser: { weekly: { limitUsd: 1 } } }\n    tiers: { overrides: { x/y: cheap } }\n');
      assert.throws(() => loadConfigFile(file), (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        const text = e.problems.join('\n');
        assert.match(text, /gateway\.cost\.usageRetentionDays: must be >= 0/);
        assert.match(text, /gateway\.cost\.budgets\.perUser\.weekly: unknown key/);
        assert.match(text, /gateway\.cost\.tiers\.overrides\.x\/y: must be one of "premium", "standard", "economy", "local"/);
        return true;
      });
      writeFileSync(file, 'gateway:\n  cost:\n    budgets: { perUser: { daily: { limitUsd: 5 } } }\n');
      assert.deepEqual(loadConfigFile(file).gateway.cost, { budgets: { perUser: { daily: { limitUsd: 5 } } } });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
