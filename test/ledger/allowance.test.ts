/**
 * A gateway (in-process) spending org budget leases from a real controller (SQLite, HTTP):
 * requests fit in a lease without a round trip, the lease renews at half use, records name their
 * lease; with the controller gone and the lease expired, the offline safety limit applies, then 402.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startTestController, sampleDirectoryYaml, type TestController } from '../controller/harness.js';
import { importDirectory } from '../../controller/directory/import.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { startScriptedUpstream, openAiCompletion, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { waitUntil } from '../support/wait.js';

const MODEL = 'openai/gpt-4.1';
/** $0.00082 per call (10 prompt + 100 completion tokens on gpt-4.1). */
const USAGE = { prompt_tokens: 10, completion_tokens: 100, total_tokens: 110 };
const TOKEN_ENV = 'SB_TEST_ALLOWANCE_TOKEN';

describe('org budget leases in the gateway', () => {
  let c: TestController;
  let upstream: ScriptedUpstream;
  let controllerUrl: string;
  before(async () => {
    c = await startTestController();
    await importDirectory(sampleDirectoryYaml, 'yaml', 'sample.yaml', c.services.directory);
    controllerUrl = await c.app.listen({ port: 0, host: '127.0.0.1' });
    upstream = await startScriptedUpstream();
    upstream.setDefault(() => ({ kind: 'json', body: openAiCompletion({ model: MODEL, content: 'ok', usage: USAGE }) }));
  });
  after(async () => {
    await upstream.close();
    await c.close();
  });

  async function gateway(org: Record<string, unknown>, url = controllerUrl): Promise<TestGateway> {
    return startTestGateway({
      upstreamUrl: upstream.baseUrl,
      env: { [TOKEN_ENV]: (await c.bearer(['finance'], 'ana')).slice('Bearer '.length) },
      config: { identity: { tenantId: 'default', userId: 'ana', role: 'finance' }, cache: { mode: 'off' }, cost: { org: { enabled: true, ...org } } },
      controller: { url, tokenEnv: TOKEN_ENV, audit: { flushIntervalMs: 20 } },
    });
  }

  const ask = (g: TestGateway) =>
    new OpenAI({ baseURL: `${g.url}/v1`, apiKey: g.token, maxRetries: 0 }).chat.completions.create({ model: MODEL, max_tokens: 100, messages: [{ role: 'user', content: 'Reconcile the October statement, briefly.' }] });

  it('spends a lease locally, renews it at half use, and reports each record with its lease', async () => {
    await c.services.ledger.setBudget('default', { scope: 'user', id: 'ana', window: 'day', limitUsd: 1 });
    const g = await gateway({ leaseUsd: 0.004 });
    try {
      for (let i = 0; i < 6; i++) await ask(g);
      await waitUntil(() => g.server.services.controllerLink.spool.pendingCount() === 0, 'audit and usage shipped', 10_000);
      const entries = (await c.services.ledger.entries('default', { limit: 100 })).entries.filter((e) => e.userId === 'ana');
      assert.equal(entries.length, 6);
      const leases = new Set(entries.map((e) => e.leaseId));
      assert.ok(!leases.has(undefined), 'every record names its lease');
      // $0.004 leases hold ~4 calls of ~$0.00096 reserved each; renewal at half use means more than one lease for 6 calls.
      assert.ok(leases.size >= 2, `leases used: ${[...leases].join(', ')}`);
      assert.ok(leases.size < 6, 'calls share a lease (no round trip per call)');
    } finally {
      await g.close();
    }
    // Closing the gateway released its leases: nothing is held back any more.
    const totals = await c.services.ledger.totals('default');
    assert.ok(totals.outstandingUsd < 1e-9, `outstanding after close: ${totals.outstandingUsd}`);
  });

  it('refuses with 402 and the controller\'s reason when the org budget is used up', async () => {
    await c.services.ledger.setBudget('default', { scope: 'user', id: 'ana', window: 'day', limitUsd: 0 });
    const g = await gateway({ leaseUsd: 0.004 });
    try {
      await assert.rejects(ask(g), (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.equal(err.status, 402);
        assert.match(err.message, /Org budget limit reached: org budget reached: the day budget for user "ana"/);
        return true;
      });
    } finally {
      await g.close();
      await c.services.ledger.setBudget('default', { scope: 'user', id: 'ana', window: 'day', limitUsd: 1 });
    }
  });

  it('offline: once the lease expired and the controller is gone, spends up to the local safety limit, then answers 402', async () => {
    // A controller of its own, so it can go away.
    const lonely = await startTestController();
    await importDirectory(sampleDirectoryYaml, 'yaml', 'sample.yaml', lonely.services.directory);
    const url = await lonely.app.listen({ port: 0, host: '127.0.0.1' });
    const g = await startTestGateway({
      upstreamUrl: upstream.baseUrl,
      env: { [TOKEN_ENV]: (await lonely.bearer(['finance'], 'ana')).slice('Bearer '.length) },
      config: { identity: { tenantId: 'default', userId: 'ana', role: 'finance' }, cache: { mode: 'off' }, cost: { org: { enabled: true, leaseUsd: 0.001, leaseTtlMs: 1000, offlineSafetyLimitUsd: 0.002, requestTimeoutMs: 500 } } },
      controller: { url, tokenEnv: TOKEN_ENV },
    });
    try {
      await ask(g); // on a lease
      await lonely.close();
      await new Promise((r) => setTimeout(r, 1100)); // the lease expires
      await ask(g); // offline: ~$0.00084 reserved, $0.00082 spent
      await ask(g); // offline: $0.00164 spent
      await assert.rejects(ask(g), (err: unknown) => {
        assert.ok(err instanceof OpenAI.APIError);
        assert.equal(err.status, 402);
        assert.match(err.message, /controller cannot be reached .* offline allowance of \$0\.00200 is used up/);
        return true;
      });
      assert.ok(g.logs.some((l) => l.includes('spending from the local offline allowance')));
    } finally {
      await g.close();
    }
  });
});
