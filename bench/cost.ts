/**
 * Cost-layer benchmark: `npm run bench:cost [-- --quick]`.
 *
 * Prints what the cost stages add per request and per stream chunk, in-process:
 * - meter on a stream: per-event cost of the usage check vs a bare pass-through generator;
 * - budgetReserve with budgets: the byte-bound path (normal) vs the tiktoken path (near a limit);
 * - tiktoken vs the byte bound for a Goose-shaped prompt and a large one;
 * - usage store writes: one commit per record vs batched per event-loop turn.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import type { JsonObject, RequestContext, SseEvent } from '../gateway/context.js';
import { openGatewayDb } from '../platform/sqlite.js';
import { loadModelRegistry } from '../models/registry.js';
import { encoder } from '../models/tokens.js';
import { estimatePromptTokens, promptTokensUpperBound } from '../gateway/cost/token-estimates.js';
import { UsageStore } from '../models/usage-store.js';
import type { UsageRecord } from '../models/usage-record.js';
import { BudgetLedger } from '../gateway/cost/ledger.js';
import { resolveCostConfig } from '../gateway/cost/config.js';
import { UsageMeter, meterSseEvents } from '../gateway/cost/usage-meter.js';
import { budgetReserveStage } from '../gateway/stages/budget.js';
import { costState } from '../gateway/cost/request-state.js';
import { gooseLikeBody } from './support/workload.js';

const HELP = `Usage: npm run bench:cost -- [--quick]

Measures the cost layer's per-request and per-chunk overhead and usage-store write throughput.
  --quick     fewer iterations (smoke check)
  -h, --help  this text
`;

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const scale = values.quick ? 0.1 : 1;

function time(label: string, iterations: number, fn: () => void): number {
  for (let i = 0; i < Math.min(iterations, 1000); i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  const ns = Number(process.hrtime.bigint() - t0) / iterations;
  process.stdout.write(`  ${label.padEnd(58)} ${ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${ns.toFixed(0)} ns`}\n`);
  return ns;
}

async function timeAsync(label: string, iterations: number, fn: () => Promise<void>): Promise<number> {
  for (let i = 0; i < Math.min(iterations, 50); i++) await fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) await fn();
  const ns = Number(process.hrtime.bigint() - t0) / iterations;
  process.stdout.write(`  ${label.padEnd(58)} ${(ns / 1e3).toFixed(2)} µs\n`);
  return ns;
}

process.stdout.write(`bench:cost — node ${process.version}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}\n\n`);

// ---- stream metering -----------------------------------------------------------------------
const chunk = (i: number) => ({ data: JSON.stringify({ id: 'gen-1', object: 'chat.completion.chunk', created: 1, model: 'anthropic/claude-sonnet-4', choices: [{ index: 0, delta: { content: `token${i} ` }, finish_reason: null }] }) });
const STREAM_EVENTS = 200;
const events: SseEvent[] = [
  ...Array.from({ length: STREAM_EVENTS }, (_, i) => chunk(i)),
  { data: JSON.stringify({ id: 'gen-1', object: 'chat.completion.chunk', model: 'anthropic/claude-sonnet-4', choices: [], usage: { prompt_tokens: 900, completion_tokens: 200, total_tokens: 1100, cost: 0.0057 } }) },
  { data: '[DONE]' },
];
async function* source(): AsyncGenerator<SseEvent> {
  for (const e of events) yield e;
}
async function* passthrough(it: AsyncIterable<SseEvent>): AsyncGenerator<SseEvent> {
  for await (const e of it) yield e;
}
async function drain(it: AsyncIterable<SseEvent>): Promise<void> {
  for await (const _ of it) void _;
}
process.stdout.write(`stream of ${events.length} events (per stream; divide by ${events.length} for per-event cost)\n`);
const bare = await timeAsync('source only', Math.round(2000 * scale), () => drain(source()));
const pass = await timeAsync('bare pass-through wrapper (floor for any wrapping stage)', Math.round(2000 * scale), () => drain(passthrough(source())));
const metered = await timeAsync('meter wrapper, hiding the usage chunk', Math.round(2000 * scale), () => drain(meterSseEvents(source(), new UsageMeter(), true)));
process.stdout.write(`  => meter adds ${((metered - pass) / events.length).toFixed(0)} ns/event over a bare wrapper (${((metered - bare) / events.length).toFixed(0)} ns/event over none)\n\n`);

// ---- budget reservation --------------------------------------------------------------------
const registry = loadModelRegistry();
const goose = JSON.parse(gooseLikeBody(false)) as JsonObject;
const big: JsonObject = { ...goose, messages: [...(goose.messages as JsonObject[]), { role: 'user', content: 'Explain this log line by line.\n'.repeat(12_000) }] };
const log = pino({ level: 'silent' });
function ctxFor(body: JsonObject): RequestContext {
  return {
    id: 'b', route: 'chat', format: 'openai', method: 'POST', receivedAt: 0, headers: {}, body, stream: false,
    requestedModel: typeof body.model === 'string' ? body.model : undefined,
    caller: { tenantId: 'acme', userId: 'alice', role: 'engineering' }, notes: {}, signal: new AbortController().signal, log,
    onFinish: () => undefined,
  };
}
process.stdout.write('budgetReserve per request (reservation settled right after)\n');
for (const [label, spent] of [['roomy budget: byte-bound path', 0], ['near the limit: tiktoken path', 99.99]] as const) {
  const ledger = new BudgetLedger(() => spent);
  const stage = budgetReserveStage({ ledger, registry, config: resolveCostConfig({ budgets: { tenant: { daily: { limitUsd: 100 } } } }) });
  time(`${label} (Goose turn, ${Buffer.byteLength(JSON.stringify(goose))} B)`, Math.round((spent ? 2000 : 50_000) * scale), () => {
    const body = structuredClone(goose);
    body.max_tokens = 1000;
    const ctx = ctxFor(body);
    stage.run(ctx);
    const reservation = costState(ctx).reservation;
    if (!reservation) throw new Error('benchmark setup: no reservation was made');
    ledger.settle(reservation, 0);
  });
}
process.stdout.write('\nprompt size estimate\n');
encoder('cl100k_base');
time(`byte bound, Goose turn`, Math.round(50_000 * scale), () => promptTokensUpperBound(goose, 'chat'));
time(`tiktoken (memoised per text), Goose turn (${estimatePromptTokens(goose, 'chat', 'anthropic/claude-sonnet-4')} tokens)`, Math.round(2000 * scale), () => estimatePromptTokens(goose, 'chat', 'anthropic/claude-sonnet-4'));
time(`byte bound, large prompt (${Buffer.byteLength(JSON.stringify(big))} B)`, Math.round(2000 * scale), () => promptTokensUpperBound(big, 'chat'));
time(`tiktoken (memoised per text), large prompt (${estimatePromptTokens(big, 'chat', 'anthropic/claude-sonnet-4')} tokens)`, Math.max(3, Math.round(30 * scale)), () => estimatePromptTokens(big, 'chat', 'anthropic/claude-sonnet-4'));

// ---- usage store -----------------------------------------------------------------------------
process.stdout.write('\nusage store writes (WAL, synchronous=NORMAL)\n');
const dir = mkdtempSync(join(tmpdir(), 'bench-cost-'));
try {
  const record = (i: number): UsageRecord => ({
    id: `r${i}-${Math.random()}`, ts: Date.now(), tenantId: 'acme', userId: 'alice', role: 'engineering', sessionId: '20251108_1', route: 'chat',
    modelRequested: 'anthropic/claude-sonnet-4', modelUsed: 'anthropic/claude-sonnet-4', promptTokens: 900, completionTokens: 200, cachedTokens: 0,
    costUsd: 0.0057, estimated: false, latencyMs: 812.5, status: 200, cacheHit: false,
  });
  const n = Math.round(5000 * scale);
  for (const batch of [false, true]) {
    const db = openGatewayDb(join(dir, `usage-${batch}.db`));
    const store = new UsageStore(db, { batch });
    // 50 requests finishing in the same event-loop turn, repeated.
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i += 50) {
      for (let j = 0; j < 50; j++) store.record(record(i + j));
      await new Promise((r) => setImmediate(r));
    }
    store.flush();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    process.stdout.write(`  ${(batch ? 'batched per turn' : 'one commit per record').padEnd(58)} ${((ms * 1000) / n).toFixed(1)} µs/record, ${Math.round(n / (ms / 1000))} records/s\n`);
    store.close();
    db.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
