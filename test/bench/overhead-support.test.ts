/** The benchmark's own parts: the passthrough floor must be faithful, the load generator must count failures. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startScriptedUpstream, openAiStream, errorReply, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startPassthrough, type Passthrough } from '../../bench/support/passthrough.js';
import { percentile, runLoad } from '../../bench/support/load.js';
import { gooseLikeBody } from '../../bench/support/workload.js';

describe('bench support', () => {
  let upstream: ScriptedUpstream;
  let passthrough: Passthrough;
  before(async () => {
    upstream = await startScriptedUpstream();
    passthrough = await startPassthrough(new URL(upstream.baseUrl).origin);
  });
  after(async () => {
    await passthrough.close();
    await upstream.close();
  });

  it('the passthrough forwards body and stream unchanged', async () => {
    const body = gooseLikeBody(true);
    const events = openAiStream({ contentPieces: ['a', 'b'] });
    upstream.enqueue({ kind: 'sse', events });
    const res = await fetch(`${passthrough.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.equal(text, events.map((e) => ('data' in e ? `data: ${e.data}\n\n` : '')).join(''));
    assert.equal(upstream.received.at(-1)!.raw, body);
    assert.equal(upstream.received.at(-1)!.path, '/v1/chat/completions');
  });

  it('the load generator counts answers and reports failures instead of timing them', async () => {
    upstream.enqueue(errorReply(503, 'down'));
    const target = { origin: passthrough.url, path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: gooseLikeBody(true), stream: true };
    const result = await runLoad(target, { connections: 2, durationMs: 300 });
    assert.ok(result.requests > 0);
    assert.equal(result.errors, 1);
    assert.match(Object.keys(result.errorKinds)[0]!, /^HTTP 503/);
    assert.equal(result.ttfbMs.length, result.requests);
    assert.ok(result.peakInFlight <= 2);
  });

  it('percentile picks the nearest rank', () => {
    const sorted = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.equal(percentile(sorted, 50), 5);
    assert.equal(percentile(sorted, 99), 10);
    assert.equal(percentile(sorted, 0), 1);
    assert.ok(Number.isNaN(percentile(new Float64Array(0), 50)));
  });
});
