/**
 * Several real gateway processes (bin/switchboard.ts gateway, from source) against one controller
 * on PostgreSQL (own schema), spending concurrently against a small org limit through the scripted
 * upstream. Asserts the overspend bound: total spend ≤ limit + outstanding leases with leases on,
 * and no overspend at all in strict mode (leases off). Prints the measured numbers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { stringify as toYaml } from 'yaml';
import { startTestController, sampleDirectoryYaml, type TestController } from '../controller/harness.js';
import { TEST_PG_URL, dropSchema } from '../controller/backends.js';
import { importDirectory } from '../../controller/directory/import.js';
import { loadOrCreateLocalToken } from '../../gateway/local-token.js';
import { startScriptedUpstream, openAiCompletion, type ScriptedUpstream } from '../support/scripted-upstream.js';

const GATEWAYS = 3;
const WORKERS_PER_GATEWAY = 4;
const ORG_LIMIT_USD = 0.03;
const MODEL = 'openai/gpt-4.1';
/** Each call: 10 prompt + 100 completion tokens on gpt-4.1 = $0.00082. */
const USAGE = { prompt_tokens: 10, completion_tokens: 100, total_tokens: 110 };
const PEOPLE = ['ana', 'lead', 'cfo'];

interface RunningGateway {
  url: string;
  token: string;
  child: ChildProcess;
  dataDir: string;
}

async function startGatewayProcess(opts: { controllerUrl: string; controllerToken: string; upstreamUrl: string; userId: string; leases: boolean }): Promise<RunningGateway> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-gw-org-'));
  const config = {
    gateway: {
      identity: { tenantId: 'default', userId: opts.userId, role: 'finance' },
      upstreams: [{ name: 'primary', kind: 'openrouter', baseUrl: opts.upstreamUrl, apiKeyEnv: 'TEST_UPSTREAM_KEY' }],
      cache: { mode: 'off' },
      cost: { org: { enabled: true, leases: opts.leases, leaseUsd: 0.005, leaseTtlMs: 60_000, offlineSafetyLimitUsd: 0 } },
    },
    controller: { url: opts.controllerUrl, tokenEnv: 'SB_TEST_CONTROLLER_TOKEN', audit: { flushIntervalMs: 50 } },
  };
  writeFileSync(join(dataDir, 'switchboard.yaml'), toYaml(config));
  const token = loadOrCreateLocalToken(dataDir);
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/switchboard.ts', 'gateway', '--data-dir', dataDir, '--port', '0', '--log-level', 'info'], {
    env: { ...process.env, TEST_UPSTREAM_KEY: 'sk-test', SB_TEST_CONTROLLER_TOKEN: opts.controllerToken, OPENROUTER_API_KEY: '', SWITCHBOARD_UPSTREAM_KEY: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stderr: string[] = [];
  child.stderr!.on('data', (d: Buffer) => stderr.push(d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start: ${stderr.join('')}`)), 60_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'gateway listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {
        // not a log line
      }
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}: ${stderr.join('')}`)));
  });
  return { url, token, child, dataDir };
}

async function stopGatewayProcess(g: RunningGateway): Promise<void> {
  if (g.child.exitCode === null) {
    const exited = new Promise((r) => g.child.once('exit', r));
    g.child.kill('SIGTERM');
    await exited;
  }
  rmSync(g.dataDir, { recursive: true, force: true });
}

interface SpendRun {
  okCosts: number[];
  refusals: number;
  otherStatuses: number[];
  refusalMessage?: string;
}

/** One worker: calls until the org refuses 3 times (or 80 calls). */
async function spend(g: RunningGateway, run: SpendRun): Promise<void> {
  let refused = 0;
  for (let i = 0; i < 80 && refused < 3; i++) {
    const res = await fetch(`${g.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${g.token}` },
      body: JSON.stringify({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'Summarise the open invoices of this week in one paragraph, please, for the team.' }] }),
    });
    const text = await res.text();
    if (res.status === 200) run.okCosts.push(Number(res.headers.get('x-switchboard-cost-usd')));
    else if (res.status === 402) {
      refused++;
      run.refusals++;
      run.refusalMessage ??= text;
    } else run.otherStatuses.push(res.status);
  }
}

describe('org budget across several gateway processes (PostgreSQL)', { timeout: 240_000 }, () => {
  let c: TestController;
  let schema: string;
  let upstream: ScriptedUpstream;
  let controllerUrl: string;
  before(async () => {
    schema = `sb_test_${process.pid}_${randomBytes(4).toString('hex')}`;
    c = await startTestController({ dbUrl: `${TEST_PG_URL}?schema=${schema}` });
    await importDirectory(sampleDirectoryYaml, 'yaml', 'sample.yaml', c.services.directory);
    controllerUrl = await c.app.listen({ port: 0, host: '127.0.0.1' });
    upstream = await startScriptedUpstream();
    upstream.setDefault(() => ({ kind: 'json', body: openAiCompletion({ model: MODEL, content: 'Three invoices are open.', usage: USAGE }) }));
  });
  after(async () => {
    await upstream.close();
    await c.close();
    await dropSchema(schema);
  });

  async function runMode(leases: boolean): Promise<{ totalUsd: number; peakOutstandingUsd: number; run: SpendRun }> {
    const tenant = c.services.tenant;
    // A fresh day budget per mode: the previous mode's spend is moved out of the window by a new limit on top of it.
    const before = (await c.services.ledger.totals(tenant)).spentUsd;
    await c.services.ledger.setBudget(tenant, { scope: 'tenant', id: tenant, window: 'day', limitUsd: before + ORG_LIMIT_USD });
    const gateways = await Promise.all(
      PEOPLE.slice(0, GATEWAYS).map(async (userId) =>
        startGatewayProcess({ controllerUrl, controllerToken: (await c.bearer(['finance'], userId)).slice('Bearer '.length), upstreamUrl: upstream.baseUrl, userId, leases }),
      ),
    );
    const run: SpendRun = { okCosts: [], refusals: 0, otherStatuses: [] };
    let peakOutstandingUsd = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peakOutstandingUsd = Math.max(peakOutstandingUsd, (await c.services.ledger.totals(tenant)).outstandingUsd);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      await Promise.all(gateways.flatMap((g) => Array.from({ length: WORKERS_PER_GATEWAY }, () => spend(g, run))));
      const clientTotal = run.okCosts.reduce((a, b) => a + b, 0);
      // Every answered call reaches the ledger through the audit batches.
      const deadline = Date.now() + 30_000;
      while ((await c.services.ledger.totals(tenant)).spentUsd - before < clientTotal - 1e-9) {
        if (Date.now() > deadline) throw new Error('usage records did not reach the ledger');
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      sampling = false;
      await sampler;
      await Promise.all(gateways.map(stopGatewayProcess));
    }
    const totalUsd = (await c.services.ledger.totals(tenant)).spentUsd - before;
    return { totalUsd, peakOutstandingUsd, run };
  }

  it('with leases: total spend ≤ limit + outstanding leases', async () => {
    const { totalUsd, peakOutstandingUsd, run } = await runMode(true);
    const overspend = Math.max(0, totalUsd - ORG_LIMIT_USD);
    console.log(`[org budget, leases on] ${GATEWAYS} gateways × ${WORKERS_PER_GATEWAY} workers: limit $${ORG_LIMIT_USD}, spent $${totalUsd.toFixed(5)}, ` +
      `overspend $${overspend.toFixed(5)}, peak outstanding leases $${peakOutstandingUsd.toFixed(5)}, ${run.okCosts.length} answered, ${run.refusals} refused (402)`);
    assert.deepEqual(run.otherStatuses, []);
    assert.ok(run.refusals > 0, 'the org limit was reached');
    assert.match(run.refusalMessage ?? '', /Org budget limit reached/);
    assert.ok(totalUsd >= ORG_LIMIT_USD * 0.5, `the org limit was mostly used ($${totalUsd})`);
    assert.ok(totalUsd <= ORG_LIMIT_USD + peakOutstandingUsd + 1e-9, `spent $${totalUsd} > limit $${ORG_LIMIT_USD} + outstanding $${peakOutstandingUsd}`);
  });

  it('strict mode (leases off): no overspend at all', async () => {
    const { totalUsd, run } = await runMode(false);
    const overspend = Math.max(0, totalUsd - ORG_LIMIT_USD);
    console.log(`[org budget, strict] ${GATEWAYS} gateways × ${WORKERS_PER_GATEWAY} workers: limit $${ORG_LIMIT_USD}, spent $${totalUsd.toFixed(5)}, ` +
      `overspend $${overspend.toFixed(5)}, ${run.okCosts.length} answered, ${run.refusals} refused (402)`);
    assert.deepEqual(run.otherStatuses, []);
    assert.ok(run.refusals > 0, 'the org limit was reached');
    assert.ok(totalUsd >= ORG_LIMIT_USD * 0.8, `the org limit was mostly used ($${totalUsd})`);
    assert.ok(totalUsd <= ORG_LIMIT_USD + 1e-9, `strict mode overspent: $${totalUsd} > $${ORG_LIMIT_USD}`);
  });
});
