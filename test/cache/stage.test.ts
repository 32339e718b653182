import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JsonObject, SseEvent } from '../../gateway/context.js';
import { ExactCache } from '../../gateway/cache/exact-cache.js';
import { openGatewayDb } from '../../platform/sqlite.js';
import { cacheStages } from '../../gateway/stages/cache.js';
import { defaultGuardPolicy } from '../../policies/guard-policy.js';
import { fakeContext, type FakeContext } from '../downshift/fake-context.js';
import { costState } from '../../gateway/cost/request-state.js';

const dir = mkdtempSync(join(tmpdir(), 'sb-cache-stage-'));
const db = openGatewayDb(join(dir, 'gateway.db'));
after(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});
const cache = new ExactCache(db, { ttlMs: 60_000, maxEntries: 100, maxBytes: 1_000_000, memoryMaxBytes: 100_000, maxEntryBytes: 2_000 });
const { lookup, store } = cacheStages({ cache, mode: 'deterministic', maxEntryBytes: 2_000 });

let n = 0;
const chat = (extra: JsonObject = {}): JsonObject => ({ model: 'm', messages: [{ role: 'user', content: `q${++n}` }], ...extra });

function withPolicy(ctx: FakeContext, mode: string): FakeContext {
  ctx.policy = { role: 'engineering', version: 'test', guard: defaultGuardPolicy, cache: { mode } };
  return ctx;
}

/** Runs lookup; on a miss plays a JSON upstream answer through store and the finish hooks. */
async function roundTrip(ctx: FakeContext, answer: JsonObject = { id: 'chatcmpl-12345678', choices: [] }) {
  lookup.run(ctx);
  if (!ctx.response) ctx.response = { kind: 'json', status: 200, headers: { 'content-type': 'application/json' }, body: answer };
  store.run(ctx);
  await ctx.finish();
  return ctx;
}

async function* events(list: SseEvent[]): AsyncGenerator<SseEvent> {
  for (const e of list) yield e;
}

describe('cache stages', () => {
  it('a policy can turn caching on for non-deterministic requests, or off entirely', async () => {
    const body = chat({ temperature: 0.8 });
    assert.equal((await roundTrip(fakeContext({ body }))).notes.cache, 'bypass');
    assert.equal((await roundTrip(withPolicy(fakeContext({ body }), 'always'))).notes.cache, 'miss');
    const hit = await roundTrip(withPolicy(fakeContext({ body }), 'always'));
    assert.equal(hit.notes.cache, 'hit');
    assert.equal(hit.response?.headers['x-switchboard-cache'], 'hit');

    const pinned = chat({ temperature: 0 });
    await roundTrip(fakeContext({ body: pinned }));
    assert.equal((await roundTrip(withPolicy(fakeContext({ body: pinned }), 'off'))).notes.cache, 'bypass');
    assert.equal((await roundTrip(withPolicy(fakeContext({ body: pinned }), 'nonsense'))).notes.cache, 'hit', 'an invalid policy value falls back to the configured mode');
  });

  it('tenants never share entries', async () => {
    const body = chat({ temperature: 0 });
    await roundTrip(fakeContext({ body, tenantId: 'acme' }));
    assert.equal((await roundTrip(fakeContext({ body, tenantId: 'globex' }))).notes.cache, 'miss');
    assert.equal((await roundTrip(fakeContext({ body, tenantId: 'acme' }))).notes.cache, 'hit');
  });

  it('streams are stored only when delivered completely, under the size cap, with the end marker', async () => {
    const play = async (body: JsonObject, list: SseEvent[], outcome: { completed?: boolean; clientAborted?: boolean } = {}) => {
      const ctx = fakeContext({ body });
      lookup.run(ctx);
      if (ctx.notes.cache === 'hit') return ctx;
      ctx.response = { kind: 'sse', status: 200, headers: { 'content-type': 'text/event-stream' }, events: events(list) };
      store.run(ctx);
      const seen: SseEvent[] = [];
      if (ctx.response.kind === 'sse') for await (const e of ctx.response.events) seen.push(e);
      assert.deepEqual(seen, list, 'recording passes every event on unchanged, keep-alives included');
      await ctx.finish(outcome);
      return ctx;
    };
    const chunk = (text: string) => ({ data: JSON.stringify({ id: 'chatcmpl-abcdefgh', choices: [{ delta: { content: text } }] }) });
    const good = [{ comment: ' keep-alive' }, chunk('a'), chunk('b'), { data: '[DONE]' }];

    const aborted = { ...chat({ temperature: 0 }), stream: true };
    await play(aborted, good, { completed: false, clientAborted: true });
    assert.equal((await play(aborted, good)).notes.cache, 'miss', 'client abort: not stored');

    const noEnd = { ...chat({ temperature: 0 }), stream: true };
    await play(noEnd, good.slice(0, 3));
    assert.equal((await play(noEnd, good)).notes.cache, 'miss', 'no [DONE]: not stored');

    const huge = { ...chat({ temperature: 0 }), stream: true };
    await play(huge, [chunk('x'.repeat(2_100)), { data: '[DONE]' }]);
    assert.equal((await play(huge, good)).notes.cache, 'miss', 'over maxEntryBytes: not stored');

    const ok = { ...chat({ temperature: 0 }), stream: true };
    await play(ok, good);
    const hit = await play(ok, good);
    assert.equal(hit.notes.cache, 'hit');
    const replayed: SseEvent[] = [];
    if (hit.response?.kind === 'sse') for await (const e of hit.response.events) replayed.push(e);
    assert.equal(replayed.length, 3, 'keep-alive comments are not stored');
    const ids = replayed.slice(0, 2).map((e) => (JSON.parse(e.data!) as { id: string }).id);
    assert.equal(ids[0], ids[1]);
    assert.notEqual(ids[0], 'chatcmpl-abcdefgh');
  });

  it('nothing is stored when the request sent is not the one keyed: budget output cap, fallback upstream', async () => {
    const capped = chat({ temperature: 0 });
    const ctx = fakeContext({ body: capped });
    lookup.run(ctx);
    // budgetReserve runs after the lookup and may lower the output cap to what the budget pays for.
    costState(ctx).cappedMaxTokens = 300;
    capped.max_tokens = 300;
    ctx.response = { kind: 'json', status: 200, headers: {}, body: { id: 'chatcmpl-12345678', choices: [{ finish_reason: 'stop' }] } };
    store.run(ctx);
    await ctx.finish();
    delete capped.max_tokens;
    assert.equal((await roundTrip(fakeContext({ body: capped }))).notes.cache, 'miss');

    const body = chat({ temperature: 0 });
    const fell = fakeContext({ body });
    lookup.run(fell);
    fell.upstream = { name: 'ollama', attempts: 2, ms: 1, model: 'llama3.2:3b', fallback: true };
    fell.response = { kind: 'json', status: 200, headers: {}, body: { id: 'chatcmpl-12345678', choices: [{ finish_reason: 'stop' }] } };
    store.run(fell);
    await fell.finish();
    assert.equal((await roundTrip(fakeContext({ body }))).notes.cache, 'miss');
  });

  it('answers cut short or reporting an error with HTTP 200 are not stored', async () => {
    const cases: JsonObject[] = [
      { id: 'chatcmpl-12345678', choices: [{ index: 0, message: { content: 'half an ans' }, finish_reason: 'length' }] },
      { id: 'chatcmpl-12345678', choices: [{ index: 0, message: { content: '' }, finish_reason: 'error' }] },
      { id: 'chatcmpl-12345678', choices: [], error: { message: 'provider failed', code: 502 } },
      { id: 'msg_12345678', type: 'message', content: [{ type: 'text', text: 'half' }], stop_reason: 'max_tokens' },
    ];
    for (const answer of cases) {
      const body = chat({ temperature: 0 });
      await roundTrip(fakeContext({ body }), answer);
      assert.equal((await roundTrip(fakeContext({ body }))).notes.cache, 'miss', JSON.stringify(answer));
    }
  });

  it('records the task kind on a hit, since downshift does not run', async () => {
    const body = { ...chat({ temperature: 0 }), messages: [{ role: 'user', content: 'Please summarize the conversation history provided in the system prompt.' }] };
    await roundTrip(fakeContext({ body }));
    const hit = await roundTrip(fakeContext({ body }));
    assert.equal(hit.notes.cache, 'hit');
    assert.equal(hit.notes.taskKind, 'compaction');
  });
});
