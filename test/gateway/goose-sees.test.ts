/**
 * What Goose sees (../shared/reference/goose-integration.md §2.8, §2.10, §2.1): policy refusals
 * with a status Goose shows to the person (never 401/403, which Goose reads as a failed login),
 * naming the allowed models; /models listing only the role's models; privacy blocks without
 * request text, keys or compaction trigger words; the older `goose-session-id` header honoured.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import type { EffectivePolicy } from '../../policies/types.js';
import type { Stage } from '../../gateway/context.js';
import { defaultGuardPolicy } from '../../policies/guard-policy.js';
import { loadPolicyStage } from '../../gateway/stages/policy.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil } from '../support/wait.js';
import { computeEventHash } from '../../audit/event.js';
import { CSV_HEADER, parseExport, toCsvRow } from '../../audit/export-format.js';

/** Goose 400s containing any of these start compaction (crates/goose/src/providers/http_status.rs). */
const TRIGGERS = [
  'too long', 'context length', 'context_length_exceeded', 'reduce the length', 'token count', 'exceeds',
  'exceed context limit', 'input length', 'max_tokens', 'decrease input length', 'context limit', 'maximum prompt length',
];
function assertNoTrigger(message: string): void {
  for (const t of TRIGGERS) assert.equal(message.toLowerCase().includes(t), false, `"${t}" in: ${message}`);
}

const KEY = 'sk-proj-abcDEF1234567890abcdefGHIJ';

describe('what Goose sees', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;
  let openai: OpenAI;
  let original: Stage;
  let policy: EffectivePolicy | undefined;

  before(async () => {
    upstream = await startScriptedUpstream();
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl });
    // Goose's declarative provider: base_url …/goose/v1.
    openai = new OpenAI({ baseURL: `${gw.url}/goose/v1`, apiKey: gw.token, maxRetries: 0 });
    const stages = gw.server.services.stages;
    const at = stages.findIndex((s) => s.name === 'loadPolicy');
    original = stages[at]!;
    stages[at] = loadPolicyStage({ policyFor: (role) => (policy ? { ...policy, role } : undefined) });
  });
  after(async () => {
    const stages = gw.server.services.stages;
    stages[stages.findIndex((s) => s.name === 'loadPolicy')] = original;
    await gw.close();
    await upstream.close();
  });

  const finance: EffectivePolicy = {
    role: 'finance',
    version: 'v3',
    guard: defaultGuardPolicy,
    allowedModels: ['openai/gpt-4.1-mini', 'google/*'],
  };

  async function refusal(model: string) {
    return openai.chat.completions.create({ model, messages: [{ role: 'user', content: 'hello' }] }).then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
    );
  }

  it('a disallowed model: 400 (shown to the person), naming the allowed models, no compaction wording', async () => {
    policy = finance;
    const calls = upstream.received.length;
    const err = await refusal('anthropic/claude-opus-4');
    assert.equal(err.status, 400);
    assert.equal(err.code, 'model_not_allowed');
    assert.match(err.message, /Model "anthropic\/claude-opus-4" is not allowed for role "engineering"\. Allowed models: openai\/gpt-4\.1-mini, google\/\*\./);
    assertNoTrigger(err.message);
    assert.equal(upstream.received.length, calls);

    // A model id is caller text: one carrying a trigger phrase is left out of the message.
    const odd = await refusal('acme/max_tokens-exceeds');
    assert.equal(odd.status, 400);
    assertNoTrigger(odd.message);
    assert.match(odd.message, /Allowed models: openai\/gpt-4\.1-mini, google\/\*/);
  });

  it('no policy for the role: 503 with a message, not an authentication failure', async () => {
    policy = undefined;
    const err = await refusal('openai/gpt-4.1-mini');
    assert.equal(err.status, 503);
    assert.equal(err.code, 'no_policy');
    assert.match(err.message, /No policy is available for role "engineering"/);
    assertNoTrigger(err.message);
  });

  it("/models lists only the role's allowed models (all of them without an allowlist)", async () => {
    policy = finance;
    const ids = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    assert.deepEqual(ids, ['google/gemini-2.5-flash']);

    policy = { role: 'engineering', version: 'v1', guard: defaultGuardPolicy };
    const all = [];
    for await (const m of openai.models.list()) all.push(m.id);
    assert.deepEqual(all, ['anthropic/claude-sonnet-4', 'google/gemini-2.5-flash', 'openai/gpt-4o-mini']);
  });

  it('a privacy block names class and message only: no JSON path, key name, value or trigger word', async () => {
    policy = { role: 'engineering', version: 'v1', guard: { defaultMode: 'mask', classes: { API_KEY: 'block' } } };
    const calls = upstream.received.length;
    const err = await openai.chat.completions
      .create({
        model: 'anthropic/claude-sonnet-4',
        messages: [
          { role: 'user', content: 'configure the client' },
          {
            role: 'assistant',
            content: null,
            tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'developer__shell', arguments: JSON.stringify({ max_tokens: KEY, context_length: 'exceeds' }) } }],
          },
          { role: 'tool', tool_call_id: 'call_1', content: 'done' },
        ],
      })
      .then(
        () => assert.fail('expected a block'),
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
      );
    assert.equal(err.status, 400);
    assert.equal(err.code, 'privacy_blocked');
    assert.match(err.message, /^400 Blocked by privacy policy: API_KEY found in message 2 at characters \d+-\d+\. /);
    assertNoTrigger(err.message);
    for (const leak of [KEY, 'tool_calls', 'arguments', 'developer__shell', 'configure']) assert.equal(err.message.includes(leak), false, leak);
    assert.equal(upstream.received.length, calls, 'nothing forwarded');
  });

  it('the older goose-session-id header names the session in audit events', async () => {
    policy = { role: 'engineering', version: 'v1', guard: defaultGuardPolicy };
    const spool = gw.server.services.controllerLink.spool;
    // Events are matched by session id (a request may write a forwarded and a completion event).
    const since = (n: number) => [...spool.events()].slice(n);
    const first = [...spool.events()].length;
    await openai.chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'goose-session-id': '20250901_4' } });
    await waitUntil(() => since(first).some((e) => e.sessionId === '20250901_4'), 'audit event spooled', 5000, 20);

    // The newer header wins when both are sent; a request without one has no sessionId field (hash unchanged for old events).
    await openai.chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'goose-session-id': 'old_1', 'agent-session-id': '20251108_2' } });
    await waitUntil(() => since(first).some((e) => e.sessionId === '20251108_2'), 'audit event spooled', 5000, 20);
    assert.equal(since(first).some((e) => e.sessionId === 'old_1'), false);
    await new Promise((r) => setTimeout(r, 200));
    const mid = [...spool.events()].length;
    await openai.chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages: [{ role: 'user', content: 'hi' }] });
    await waitUntil(() => since(mid).length > 0, 'audit event spooled', 5000, 20);
    assert.ok(since(mid).every((e) => !('sessionId' in e)));
    const events = [...spool.events()];

    // The session id is hashed with the event, and survives a CSV export read back for verification.
    for (const e of events) assert.equal(computeEventHash(e), e.hash);
    const parsed = parseExport(CSV_HEADER + events.map(toCsvRow).join(''));
    assert.deepEqual(parsed.problems, []);
    assert.deepEqual(parsed.events, events);
  });
});
