/**
 * Privacy Guard masking benchmark: request masking (with the real detector) and streaming
 * re-identification throughput. Prints numbers; run with `npm run bench:guard-mask`.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { JsonObject, SseEvent } from '../gateway/context.js';
import { detect } from '../gateway/guard/detect.js';
import { TenantKeys } from '../gateway/guard/pseudonym.js';
import { maskRequestBody, type MaskOptions } from '../gateway/guard/mask-request.js';
import { PseudonymMatcher, ReidentifyingStream, reidentifyOpenAiSse, reidentifyText } from '../gateway/guard/reidentify-stream.js';
import type { DetectFn } from '../gateway/guard/types.js';

const pseudonymizer = new TenantKeys(randomBytes(32)).pseudonymizer('bench');

const people = ['Alice Johnson', 'Rahul Mehta', 'Sofia Rossi', 'Kenji Watanabe'];
const filler = 'The deployment failed after the migration step; logs show a retry loop in the worker pool and the queue depth kept growing. ';

/** A Goose-like conversation of about `bytes` of text with a few entities per kilobyte. */
function conversation(bytes: number): JsonObject {
  const messages: JsonObject[] = [{ role: 'system', content: 'You are a careful engineering assistant. Use tools when needed.' }];
  let size = 0;
  let i = 0;
  while (size < bytes) {
    const who = people[i % people.length]!;
    const email = `${who.split(' ')[0]!.toLowerCase()}.${i}@example-corp.io`;
    const text = `${filler}Contact ${who} at ${email} or +1 415 555 01${String(i % 100).padStart(2, '0')}. ${filler}`;
    messages.push({ role: i % 2 ? 'assistant' : 'user', content: text });
    if (i % 3 === 2) {
      messages.push({
        role: 'assistant', content: null,
        tool_calls: [{ id: `c${i}`, type: 'function', function: { name: 'developer__shell', arguments: JSON.stringify({ command: `curl -u ${email}:hunter2 https://api.internal/v1/items` }) } }],
      });
      messages.push({ role: 'tool', tool_call_id: `c${i}`, content: `HTTP 200 for ${email}\n${filler}` });
    }
    size += text.length + 200;
    i++;
  }
  return { model: 'anthropic/claude-sonnet-4', messages };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

function timeIt(label: string, bytes: number, iterations: number, fn: () => void): void {
  for (let i = 0; i < Math.min(200, iterations); i++) fn(); // warm-up
  const samples: number[] = [];
  const start = performance.now();
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    fn();
    samples.push(performance.now() - t);
  }
  const total = performance.now() - start;
  samples.sort((a, b) => a - b);
  const mbps = (bytes * iterations) / (total / 1000) / 1e6;
  console.log(`${label.padEnd(46)} p50 ${percentile(samples, 0.5).toFixed(3)} ms  p99 ${percentile(samples, 0.99).toFixed(3)} ms  ${mbps.toFixed(1)} MB/s`);
}

console.log(`node ${process.version}\n`);
console.log('Request masking (real detector; each run masks a fresh structuredClone of the body, clone time included)');
for (const size of [4 * 1024, 64 * 1024]) {
  const template = conversation(size);
  const textBytes = JSON.stringify(template).length;
  // Findings computed once, to separate the masking cost from detection.
  const cached = new Map<string, ReturnType<DetectFn>>();
  const cachedDetect: DetectFn = (text, o) => {
    let f = cached.get(text);
    if (!f) cached.set(text, (f = detect(text, o)));
    return f;
  };
  const opts = (d: DetectFn): MaskOptions => ({ detect: d, pseudonymizer, modeFor: () => 'mask' });
  const iterations = size < 10_000 ? 3000 : 300;
  timeIt(`clone only, ${(textBytes / 1024).toFixed(0)} KB body`, textBytes, iterations, () => structuredClone(template));
  timeIt(`detect + mask, ${(textBytes / 1024).toFixed(0)} KB body`, textBytes, iterations, () => maskRequestBody(structuredClone(template), 'openai-chat', opts(detect)));
  timeIt(`mask with known findings, ${(textBytes / 1024).toFixed(0)} KB body`, textBytes, iterations, () => maskRequestBody(structuredClone(template), 'openai-chat', opts(cachedDetect)));
  const probe = structuredClone(template);
  const r = maskRequestBody(probe, 'openai-chat', opts(detect));
  console.log(`  → ${Object.entries(r.redactions).map(([k, v]) => `${k}:${v}`).join(' ')}, ${r.entries.length} pseudonyms`);
}

console.log('\nStreaming re-identification');
const entries = Array.from({ length: 40 }, (_, i) => ({ pseudonym: pseudonymizer.token(i % 2 ? 'EMAIL' : 'PERSON', randomBytes(32)), value: `value-${i}@example-corp.io` }));
const matcher = new PseudonymMatcher(entries);
let answer = '';
while (answer.length < 1_000_000) answer += `${filler}Reach ${entries[answer.length % entries.length]!.pseudonym} Errors in EMAIL handling. `;
const answerBytes = answer.length;
timeIt('non-stream reidentifyText, 1 MB answer', answerBytes, 50, () => reidentifyText(matcher, answer));
for (const chunk of [4, 16, 64]) {
  const pieces: string[] = [];
  for (let i = 0; i < answer.length; i += chunk) pieces.push(answer.slice(i, i + chunk));
  timeIt(`stream, ${chunk}-char chunks, 1 MB answer`, answerBytes, 30, () => {
    const s = new ReidentifyingStream(matcher);
    for (const p of pieces) s.push(p);
    s.flush();
  });
}

// Whole SSE path: JSON parse/serialise of each chunk included, as the gateway does it.
const events: SseEvent[] = [];
for (let i = 0; i < 20_000; i += 1) {
  const piece = answer.slice(i * 16, i * 16 + 16);
  events.push({ data: JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] }) });
}
events.push({ data: '[DONE]' });
const sseBytes = events.reduce((n, e) => n + (e.data?.length ?? 0), 0);
async function drainSse(): Promise<void> {
  async function* src() {
    for (const e of events) yield e;
  }
  for await (const _ of reidentifyOpenAiSse(src(), matcher)) void _;
}
for (let i = 0; i < 3; i++) await drainSse();
const runs = 10;
const t0 = performance.now();
for (let i = 0; i < runs; i++) await drainSse();
const ms = (performance.now() - t0) / runs;
console.log(`${'OpenAI SSE wrapper, 20k chunks of 16 chars'.padEnd(46)} ${(ms * 1000 / events.length).toFixed(2)} µs/event  ${(sseBytes / (ms / 1000) / 1e6).toFixed(1)} MB/s of SSE data`);
