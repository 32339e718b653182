/**
 * End to end through a whole gateway with the official SDKs: usage records, the hidden usage
 * chunk, OpenRouter's reported cost, price × tokens, estimates, and budget stops with 402.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { anthropicStream, openAiCompletion, openAiStream, startScriptedUpstream, type ReceivedRequest, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil } from '../support/wait.js';
import { openGatewayDb, type GatewayDb } from '../../platform/sqlite.js';
import { UsageStore } from '../../models/usage-store.js';
import type { UsageRecord } from '../../models/usage-record.js';

function openStore(dataDir: string): { db: GatewayDb; store: UsageStore } {
  const db = openGatewayDb(join(dataDir, 'gateway.db'));
  return { db, store: new UsageStore(db) };
}

async function recordsOf(dataDir: string, count: number): Promise<UsageRecord[]> {
  const { db, store } = openStore(dataDir);
  try {
    let records: UsageRecord[] = [];
    await waitUntil(() => (records = [...store.records({ since: 0 })]).length >= count, `${count} usage records`, 5000, 20);
    return records;
  } finally {
    db.close();
  }
}

const close = (a: number, b: number) => Math.abs(a - b) < 1e-12;

describe('metering through the gateway', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;
  let client: OpenAI;

  before(async () => {
    upstream = await startScriptedUpstream();
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  let seen = 0;
  async function nextRecord(): Promise<UsageRecord> {
    seen++;
    return (await recordsOf(gw.dataDir, seen))[seen - 1]!;
  }

  it('non-stream: stores one record with OpenRouter cost, tokens, session/task ids; cost header', async () => {
    upstream.enqueue({
      kind: 'json',
      body: openAiCompletion({ content: 'Paris.', usage: { prompt_tokens: 1200, completion_tokens: 30, total_tokens: 1230, prompt_tokens_details: { cached_tokens: 1000 }, cost: 0.00123 } }),
    });
    const res = await client.chat.completions
      .create(
        { model: 'anthropic/claude-sonnet-4', messages: [{ role: 'user', content: 'Capital of France?' }] },
        { headers: { 'agent-session-id': '20251108_1', 'x-switchboard-task-id': 'task-42', 'x-switchboard-task-kind': 'qa' } },
      )
      .withResponse();
    assert.equal(res.response.headers.get('x-switchboard-cost-usd'), '0.00123');
    const r = await nextRecord();
    assert.equal(r.tenantId, 'local');
    assert.equal(r.userId, 'local-user');
    assert.equal(r.role, 'engineering');
    assert.equal(r.sessionId, '20251108_1');
    assert.equal(r.taskId, 'task-42');
    assert.equal(r.route, 'chat');
    assert.equal(r.modelRequested, 'anthropic/claude-sonnet-4');
    assert.equal(r.modelUsed, 'anthropic/claude-sonnet-4');
    assert.deepEqual([r.promptTokens, r.completionTokens, r.cachedTokens], [1200, 30, 1000]);
    assert.equal(r.costUsd, 0.00123);
    assert.equal(r.estimated, false);
    assert.equal(r.status, 200);
    assert.equal(r.cacheHit, false);
    assert.ok(r.latencyMs > 0);
  });

  it('non-stream without a reported cost: registry price × tokens, cache reads at the cache price', async () => {
    upstream.enqueue({
      kind: 'json',
      body: openAiCompletion({ content: 'ok', usage: { prompt_tokens: 1200, completion_tokens: 30, total_tokens: 1230, prompt_tokens_details: { cached_tokens: 1000 } } }),
    });
    await client.chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages: [{ role: 'user', content: 'hi' }] });
    const r = await nextRecord();
    // 200 × $3/M + 1000 × $0.30/M + 30 × $15/M
    assert.ok(close(r.costUsd, 200 * 3e-6 + 1000 * 0.3e-6 + 30 * 15e-6), String(r.costUsd));
    assert.equal(r.estimated, false);
  });

  it('stream: asks the upstream for usage, hides the extra usage chunk from a client that did not ask', async () => {
    upstream.enqueue({
      kind: 'sse',
      events: openAiStream({ model: 'google/gemini-2.5-flash', contentPieces: ['Hel', 'lo'], usage: { prompt_tokens: 50, completion_tokens: 7, total_tokens: 57, cost: 0.0000321 } }),
    });
    const stream = await client.chat.completions.create({ model: 'google/gemini-2.5-flash', messages: [{ role: 'user', content: 'hi' }], stream: true });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    const sent = upstream.received.at(-1)!.body as { stream_options?: { include_usage?: boolean } };
    assert.equal(sent.stream_options?.include_usage, true, 'upstream asked for usage');
    assert.ok(chunks.length >= 3);
    assert.ok(chunks.every((c) => c.choices.length > 0 && !c.usage), 'no usage chunk reaches the client');
    assert.equal(chunks.map((c) => c.choices[0]?.delta.content ?? '').join(''), 'Hello');
    const r = await nextRecord();
    assert.deepEqual([r.promptTokens, r.completionTokens], [50, 7]);
    assert.equal(r.costUsd, 0.0000321);
    assert.equal(r.estimated, false);
  });

  it('stream: a client that asked for usage gets the usage chunk and an unchanged request upstream', async () => {
    upstream.enqueue({ kind: 'sse', events: openAiStream({ contentPieces: ['x'], usage: { prompt_tokens: 5, completion_tokens: 1, total_tokens: 6 } }) });
    const request = { model: 'anthropic/claude-sonnet-4', messages: [{ role: 'user' as const, content: 'hi' }], stream: true as const, stream_options: { include_usage: true } };
    const stream = await client.chat.completions.create(request);
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    assert.deepEqual(upstream.received.at(-1)!.body, request);
    const last = chunks.at(-1)!;
    assert.equal(last.choices.length, 0);
    assert.equal(last.usage?.prompt_tokens, 5);
    const r = await nextRecord();
    assert.ok(close(r.costUsd, 5 * 3e-6 + 1 * 15e-6));
  });

  it('stream without any usage from the upstream: the record is a tiktoken estimate, marked so', async () => {
    upstream.enqueue({ kind: 'sse', events: openAiStream({ model: 'openai/gpt-4o-mini', contentPieces: ['a', 'b', 'c', 'd'], usage: null }) });
    const stream = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hello world' }], stream: true });
    for await (const _ of stream) void _;
    const r = await nextRecord();
    assert.equal(r.estimated, true);
    assert.equal(r.promptTokens, 2 + 3 + 3, 'tiktoken count of the prompt plus chat framing');
    assert.equal(r.completionTokens, 4);
    assert.ok(close(r.costUsd, 8 * 0.15e-6 + 4 * 0.6e-6));
  });

  it('Anthropic messages stream: usage from message_start and message_delta', async () => {
    upstream.enqueue({ kind: 'sse', events: anthropicStream({ textPieces: ['Hi', ' there'], usage: { input_tokens: 321, output_tokens: 12 } }) });
    const anthropic = new Anthropic({ baseURL: gw.url, apiKey: gw.token, maxRetries: 0 });
    const stream = anthropic.messages.stream({ model: 'anthropic/claude-sonnet-4', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    const final = await stream.finalMessage();
    assert.equal(final.usage.output_tokens, 12);
    const r = await nextRecord();
    assert.equal(r.route, 'messages');
    assert.deepEqual([r.promptTokens, r.completionTokens], [321, 12]);
    assert.ok(close(r.costUsd, 321 * 3e-6 + 12 * 15e-6));
  });
});

describe('usage records cannot be overwritten by the caller', () => {
  it('a repeated x-request-id adds rows (kept as requestId), also across a restart; unknown models cost the reserved price', async () => {
    const upstream = await startScriptedUpstream();
    const dataDir = mkdtempSync(join(tmpdir(), 'sb-reqid-'));
    let gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, dataDir });
    try {
      const send = async (model = 'anthropic/claude-sonnet-4') => {
        upstream.enqueue({ kind: 'json', body: openAiCompletion({ model, content: 'ok', usage: { prompt_tokens: 1000, completion_tokens: 100, total_tokens: 1100, ...(model.startsWith('acme/') ? {} : { cost: 0.5 }) } }) });
        const res = await fetch(`${gw.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json', 'x-request-id': 'same-id-every-time' },
          body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
        });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('x-request-id'), 'same-id-every-time');
        await res.text();
      };
      await send();
      await send();
      await send();
      await gw.close();
      gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, dataDir });
      await send();
      const records = await recordsOf(dataDir, 4);
      assert.equal(records.length, 4);
      assert.ok(records.every((r) => r.requestId === 'same-id-every-time'));
      assert.equal(new Set(records.map((r) => r.id)).size, 4, 'the gateway makes each record id');
      assert.ok(records.every((r) => r.id !== 'same-id-every-time'));
      assert.equal(records.reduce((sum, r) => sum + r.costUsd, 0), 2);

      // A model missing from the registry, with no cost from the upstream: the unknown-model price ($15/$75 per M).
      await send('acme/in-house-model');
      const [unknown] = (await recordsOf(dataDir, 5)).slice(4);
      assert.ok(close(unknown!.costUsd, 1000 * 15e-6 + 100 * 75e-6), String(unknown!.costUsd));
      assert.equal(unknown!.estimated, true);
    } finally {
      await gw.close();
      await upstream.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('budgets through the gateway', () => {
  const TODAY = Date.now();

  async function gatewayWithSpend(spentUsd: number, budgets: object, reply?: (req: ReceivedRequest) => ReturnType<typeof openAiCompletion>) {
    const dataDir = mkdtempSync(join(tmpdir(), 'sb-budget-'));
    const { db, store } = openStore(dataDir);
    store.record({
      id: 'seed', ts: TODAY, tenantId: 'local', userId: 'local-user', role: 'engineering', route: 'chat',
      modelRequested: 'openai/gpt-4o', modelUsed: 'openai/gpt-4o', promptTokens: 1, completionTokens: 1, cachedTokens: 0,
      costUsd: spentUsd, estimated: false, latencyMs: 1, status: 200, cacheHit: false,
    });
    store.close();
    db.close();
    const upstream = await startScriptedUpstream();
    if (reply) upstream.setDefault((req) => ({ kind: 'json', body: reply(req) }));
    const gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, dataDir, config: { cost: { budgets } } });
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
    return {
      upstream, gw, client, dataDir,
      async close() {
        await gw.close();
        await upstream.close();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  }

  it('a spent budget stops requests with 402, budget headers and wording Goose does not read as context overflow', async () => {
    const t = await gatewayWithSpend(5, { perUser: { daily: { limitUsd: 5 } } });
    try {
      const err = await t.client.chat.completions.create({ model: 'openai/gpt-4o', messages: [{ role: 'user', content: 'hi' }] }).then(
        () => assert.fail('expected 402'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof OpenAI.APIError);
      assert.equal(err.status, 402);
      assert.equal(err.headers?.get('x-switchboard-budget-limit'), '5.0000');
      assert.equal(err.headers?.get('x-switchboard-budget-remaining'), '0');
      assert.equal(err.headers?.get('x-switchboard-budget-window'), 'daily');
      assert.equal(err.headers?.get('x-switchboard-budget-scope'), 'user:local/local-user');
      assert.match(err.headers?.get('x-switchboard-budget-reset') ?? '', /T00:00:00.000Z$/);
      assert.match(err.message, /Budget limit reached: the daily budget for user "local-user" is \$5\.0000/);
      const goosePhrases = ['too long', 'context length', 'context_length_exceeded', 'reduce the length', 'token count', 'exceeds', 'exceed context limit', 'input length', 'max_tokens', 'decrease input length', 'context limit', 'maximum prompt length'];
      for (const p of goosePhrases) assert.ok(!err.message.toLowerCase().includes(p), `message contains "${p}"`);
      assert.equal(t.upstream.received.length, 0, 'nothing was sent upstream');
      const records = await recordsOf(t.dataDir, 2);
      assert.equal(records.find((r) => r.id !== 'seed')?.status, 402);
    } finally {
      await t.close();
    }
  });

  it('soft limit: request passes and its budget headers show what is left', async () => {
    const t = await gatewayWithSpend(4.5, { perUser: { daily: { limitUsd: 5 } } });
    try {
      t.upstream.enqueue({ kind: 'json', body: openAiCompletion({ content: 'ok', usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15, cost: 0.001 } }) });
      const res = await t.client.chat.completions
        .create({ model: 'openai/gpt-4o-mini', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      assert.equal(res.response.headers.get('x-switchboard-budget-remaining'), '0.5000');
      assert.equal(res.response.headers.get('x-switchboard-budget-window'), 'daily');
    } finally {
      await t.close();
    }
  });

  it('200 concurrent requests against an almost spent budget never overspend the hard limit', async () => {
    // The upstream always uses the whole output allowance it was given: the worst case.
    const price = { prompt: 2.5e-6, completion: 10e-6 }; // openai/gpt-4o
    const t = await gatewayWithSpend(0.8, { tenant: { daily: { limitUsd: 1 } } }, (req) => {
      const body = req.body as { max_tokens?: number; model: string };
      const completion = body.max_tokens ?? 16_384;
      return openAiCompletion({ model: body.model, content: 'x', usage: { prompt_tokens: 20, completion_tokens: completion, total_tokens: 20 + completion, cost: 20 * price.prompt + completion * price.completion } });
    });
    try {
      const results = await Promise.all(
        Array.from({ length: 200 }, () =>
          t.client.chat.completions
            .create({ model: 'openai/gpt-4o', max_tokens: 2000, messages: [{ role: 'user', content: 'Summarize the plan.' }] })
            .then(() => 200, (e: unknown) => (e instanceof OpenAI.APIError ? (e.status ?? 0) : -1)),
        ),
      );
      const ok = results.filter((s) => s === 200).length;
      const refused = results.filter((s) => s === 402).length;
      assert.equal(ok + refused, 200, `unexpected statuses: ${[...new Set(results)].join(',')}`);
      assert.ok(ok >= 9, `only ${ok} requests got through`);
      assert.ok(refused > 0);
      const records = await recordsOf(t.dataDir, 201);
      const spent = records.reduce((sum, r) => sum + r.costUsd, 0);
      assert.ok(spent <= 1 + 1e-9, `spent ${spent} of a $1 budget`);
      assert.ok(spent > 0.97, `budget left unused: spent ${spent}`);
    } finally {
      await t.close();
    }
  });
});
