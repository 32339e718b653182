/** `switchboard usage --org` and `switchboard rules simulate --org` against a real controller over HTTP. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestController, sampleDirectoryYaml, type TestController } from '../controller/harness.js';
import { importDirectory } from '../../controller/directory/import.js';
import { orgUsageReport, type UsageFlags } from '../../bin/commands/usage.js';
import { runOrgSimulation, type SimulateFlags } from '../../bin/commands/rules.js';
import { CliError } from '../../bin/cli-support.js';
import type { UsageRecord } from '../../models/usage-record.js';

const run = promisify(execFile);

function record(over: Partial<UsageRecord>): UsageRecord {
  return {
    id: randomUUID(), ts: Date.parse('2026-11-20T12:00:00Z'), tenantId: 'default', userId: 'ana', role: 'finance', route: 'chat',
    modelRequested: 'anthropic/claude-opus-4', modelUsed: 'anthropic/claude-opus-4', promptTokens: 2000, completionTokens: 200, cachedTokens: 0,
    costUsd: 0.045, estimated: false, latencyMs: 50, status: 200, cacheHit: false, ...over,
  };
}

describe('org usage and org rules simulation from the CLI', () => {
  let c: TestController;
  let url: string;
  let dataDir: string;
  let rulesFile: string;
  const env = 'SB_TEST_COST_OWNER_TOKEN';
  before(async () => {
    c = await startTestController();
    await importDirectory(sampleDirectoryYaml, 'yaml', 'sample.yaml', c.services.directory);
    url = await c.app.listen({ port: 0, host: '127.0.0.1' });
    process.env[env] = (await c.bearer(['cost-owner'], 'cfo')).slice('Bearer '.length);
    await c.services.ledger.ingest('default', [
      record({}),
      record({ userId: 'mia', role: 'marketing', modelUsed: 'google/gemini-2.5-flash', modelRequested: 'google/gemini-2.5-flash', costUsd: 0.001 }),
      record({ ts: Date.parse('2026-11-21T12:00:00Z'), costUsd: 0.03 }),
    ], { gatewayId: 'gw', departmentOf: async (u) => (await c.services.directory.personFacts(u))?.department ?? undefined });
    dataDir = mkdtempSync(join(tmpdir(), 'sb-cli-org-'));
    rulesFile = join(dataDir, 'candidate.yaml');
    writeFileSync(rulesFile, 'version: 1\nrules:\n  - id: opus-to-sonnet\n    match: { models: ["anthropic/claude-opus-*"] }\n    action: { model: anthropic/claude-sonnet-4 }\n');
  });
  after(async () => {
    delete process.env[env];
    await c.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  const usageFlags = (over: Partial<UsageFlags>): UsageFlags => ({ dataDir, by: 'day', since: '30d', format: 'table', org: true, controller: url, tokenEnv: env, from: '2026-11-01', to: '2026-12-01', ...over });

  it('usage --org groups the ledger by department as a table, JSON and CSV', async () => {
    const table = await orgUsageReport(usageFlags({ groupBy: 'department' }));
    assert.match(table, /^department\s+requests/m);
    assert.match(table, /finance-dept\s+2\s/);
    assert.match(table, /marketing-dept\s+1\s/);
    const json = JSON.parse(await orgUsageReport(usageFlags({ groupBy: 'day', format: 'json' })));
    assert.deepEqual(json.rows.map((r: { key: string }) => r.key), ['2026-11-20', '2026-11-21']);
    assert.ok(Math.abs(json.totals.costUsd - 0.076) < 1e-9);
    const csv = await orgUsageReport(usageFlags({ groupBy: 'user', format: 'csv' }));
    assert.equal(csv.split('\n')[0], 'user,requests,promptTokens,completionTokens,costUsd,cacheHits,cacheSavingsUsd,downshifts,downshiftSavingsUsd');
    assert.match(csv, /^ana,2,4000,400,0\.075,/m);
  });

  it('rules simulate --org replays the org ledger on the controller', async () => {
    const flags: SimulateFlags = { dataDir, rules: '', since: '30d', format: 'json', assumeBudget: 'ok', org: true, controller: url, tokenEnv: env, role: 'finance', from: '2026-11-01', to: '2026-12-01' };
    const report = JSON.parse(await runOrgSimulation(rulesFile, flags));
    assert.equal(report.requests, 2);
    assert.equal(report.downshifted, 2);
    assert.ok(report.savingsUsd > 0);
    const table = await runOrgSimulation(rulesFile, { ...flags, format: 'table' });
    assert.match(table, /Replayed 2 org requests of role finance/);
    assert.match(table, /opus-to-sonnet\s+2\s+2/);
  });

  it('says why in one line when the token may not read org spend or the controller is down', async () => {
    process.env.SB_TEST_GATEWAY_TOKEN = (await c.bearer(['finance'], 'ana')).slice('Bearer '.length);
    await assert.rejects(orgUsageReport(usageFlags({ tokenEnv: 'SB_TEST_GATEWAY_TOKEN' })), (err: unknown) => err instanceof CliError && /HTTP 403\): this endpoint needs one of the roles: admin, cost-owner/.test(err.message));
    delete process.env.SB_TEST_GATEWAY_TOKEN;
    await assert.rejects(orgUsageReport(usageFlags({ controller: 'http://127.0.0.1:9' })), (err: unknown) => err instanceof CliError && /cannot reach the controller/.test(err.message));
    await assert.rejects(orgUsageReport(usageFlags({ groupBy: 'planet' })), /--group-by must be one of/);
    const res = await run(process.execPath, ['--import', 'tsx', 'bin/switchboard.ts', 'usage', '--data-dir', dataDir, '--group-by', 'department']).catch((e: { code: number; stderr: string }) => e);
    assert.equal((res as { code: number }).code, 2);
    assert.match((res as { stderr: string }).stderr, /--group-by, --from, --to and --controller go with --org/);
  });
});
