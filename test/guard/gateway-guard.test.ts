/**
 * End to end through a real gateway: the scripted upstream must never receive an injected value,
 * and the official SDKs must get the real values back, in content and tool-call arguments,
 * streamed or not. Block mode answers the documented 400.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import {
  anthropicMessage, anthropicStream, openAiCompletion, openAiStream, startScriptedUpstream,
  type ReceivedRequest, type ScriptedUpstream,
} from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { loadPolicyStage } from '../../gateway/stages/policy.js';
import type { EffectivePolicy } from '../../policies/types.js';

const EMAIL = 'alice.johnson@acme-corp.com';
const NAME = 'Alice Johnson';
const KEY = 'sk-proj-abcDEF1234567890abcdefGHIJ';
const PHONE = '+1 415 555 0132';
const SECRETS = [EMAIL, NAME, KEY, PHONE];

/** The pseudonyms the upstream saw, by the real value they replace (found by position). */
function pseudonymsIn(req: ReceivedRequest): { email: string; person: string } {
  const raw = req.raw;
  const email = raw.match(/EMAIL_[0-9A-F]{8}/)?.[0];
  const person = raw.match(/PERSON_[0-9A-F]{8}/)?.[0];
  assert.ok(email && person, 'upstream got pseudonyms');
  return { email, person };
}

/** Splits a text into pieces of 3 so cuts fall inside pseudonyms. */
function pieces(text: string, size = 3): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

function assertNoSecrets(text: string, where: string): void {
  for (const s of SECRETS) assert.equal(text.includes(s), false, `${where} contains ${s}`);
}

const conversation: OpenAI.ChatCompletionMessageParam[] = [
  { role: 'system', content: `You help ${NAME} (${EMAIL}).` },
  { role: 'user', content: `Email ${NAME} my key ${KEY} and call ${PHONE}` },
  { role: 'assistant', content: null, tool_calls: [{ id: 'c0', type: 'function', function: { name: 'mail', arguments: JSON.stringify({ to: EMAIL, body: `key: ${KEY}` }) } }] },
  { role: 'tool', tool_call_id: 'c0', content: `sent to ${EMAIL}` },
];

describe('privacy guard through the gateway', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    upstream = await startScriptedUpstream();
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl });
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: gw.url, apiKey: gw.token, maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('non-stream: upstream sees pseudonyms only; the client gets real values in content and tool-call arguments', async () => {
    upstream.setDefault((req) => {
      const p = pseudonymsIn(req);
      return {
        kind: 'json',
        body: openAiCompletion({
          content: `I will write to ${p.person} at ${p.email}.`,
          toolCalls: [{ id: 'c1', name: 'mail', argumentFragments: [JSON.stringify({ to: p.email, greeting: `Dear ${p.person}` })] }],
        }),
      };
    });
    const res = await openai.chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages: conversation });
    upstream.setDefault(undefined);
    const req = upstream.received.at(-1)!;
    assertNoSecrets(req.raw, 'upstream request');
    // History tool-call arguments still valid JSON after masking.
    const history = (req.body as { messages: Array<{ tool_calls?: Array<{ function: { arguments: string } }> }> }).messages;
    assert.match(JSON.parse(history[2]!.tool_calls![0]!.function.arguments).to, /^EMAIL_[0-9A-F]{8}$/);
    const message = res.choices[0]!.message;
    assert.equal(message.content, `I will write to ${NAME} at ${EMAIL}.`);
    const call = message.tool_calls![0]! as OpenAI.ChatCompletionMessageFunctionToolCall;
    assert.deepEqual(JSON.parse(call.function.arguments), { to: EMAIL, greeting: `Dear ${NAME}` });
    const line = gw.logs.find((l) => l.includes('"msg":"request"') && l.includes('redactions'));
    assert.ok(line, 'request log line carries the redaction summary');
    assert.deepEqual(JSON.parse(line).notes.redactions, { PERSON: 2, EMAIL: 3, API_KEY: 2, PHONE: 1 });
  });

  it('stream: held-back pieces are restored across chunk cuts, in content and tool-call argument fragments', async () => {
    upstream.setDefault((req) => {
      const p = pseudonymsIn(req);
      return {
        kind: 'sse',
        events: openAiStream({
          contentPieces: pieces(`Writing to ${p.person} <${p.email}> now.`),
          toolCalls: [{ id: 'c2', name: 'mail', argumentFragments: pieces(JSON.stringify({ to: p.email, cc: [p.email], who: p.person }), 4) }],
        }),
      };
    });
    const stream = await openai.chat.completions.create({
      model: 'anthropic/claude-sonnet-4', messages: conversation, stream: true, stream_options: { include_usage: true },
    });
    let content = '';
    let args = '';
    let sawUsage = false;
    for await (const chunk of stream) {
      if (chunk.usage) sawUsage = true;
      const delta = chunk.choices[0]?.delta;
      content += delta?.content ?? '';
      for (const tc of delta?.tool_calls ?? []) args += tc.function?.arguments ?? '';
    }
    upstream.setDefault(undefined);
    assertNoSecrets(upstream.received.at(-1)!.raw, 'upstream request');
    assert.equal(content, `Writing to ${NAME} <${EMAIL}> now.`);
    assert.deepEqual(JSON.parse(args), { to: EMAIL, cc: [EMAIL], who: NAME });
    assert.ok(sawUsage);
  });

  it('Anthropic messages, non-stream and stream, including tool_use input', async () => {
    const messages: Anthropic.MessageParam[] = [
      { role: 'user', content: [{ type: 'text', text: `I am ${NAME}, reach me at ${EMAIL}` }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't0', name: 'lookup', input: { email: EMAIL } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't0', content: `${NAME} has key ${KEY}` }] },
    ];
    upstream.setDefault((req) => {
      const p = pseudonymsIn(req);
      const stream = (req.body as { stream?: boolean }).stream;
      return stream
        ? { kind: 'sse', events: anthropicStream({ textPieces: pieces(`Hello ${p.person}`), toolUse: { id: 't1', name: 'mail', jsonFragments: pieces(JSON.stringify({ to: p.email }), 5) } }) }
        : { kind: 'json', body: anthropicMessage({ text: `Hello ${p.person}`, toolUse: { id: 't1', name: 'mail', input: { to: p.email } } }) };
    });
    const res = await anthropic.messages.create({ model: 'anthropic/claude-sonnet-4', max_tokens: 100, system: `Assist ${NAME}`, messages });
    assertNoSecrets(upstream.received.at(-1)!.raw, 'upstream request');
    assert.deepEqual(res.content.map((b) => (b.type === 'text' ? b.text : b.type === 'tool_use' ? b.input : null)), [`Hello ${NAME}`, { to: EMAIL }]);

    const streamed = await anthropic.messages.stream({ model: 'anthropic/claude-sonnet-4', max_tokens: 100, messages }).finalMessage();
    upstream.setDefault(undefined);
    assertNoSecrets(upstream.received.at(-1)!.raw, 'upstream request');
    assert.deepEqual(streamed.content.map((b) => (b.type === 'text' ? b.text : b.type === 'tool_use' ? b.input : null)), [`Hello ${NAME}`, { to: EMAIL }]);
  });

  it('logs never carry a detected value', () => {
    assert.ok(gw.logs.length > 0);
    for (const line of gw.logs) assertNoSecrets(line, 'log line');
  });

  it('block mode answers 400 privacy_blocked naming class and place, not the value, without calling upstream', async () => {
    const policy: EffectivePolicy = { role: 'engineering', version: 'test', guard: { defaultMode: 'mask', classes: { API_KEY: 'block' } } };
    const stages = gw.server.services.stages;
    const at = stages.findIndex((s) => s.name === 'loadPolicy');
    const original = stages[at]!;
    stages[at] = loadPolicyStage({ policyFor: (role) => ({ ...policy, role }) });
    try {
      const calls = upstream.received.length;
      const err = await openai.chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages: conversation }).then(
        () => assert.fail('expected a block'),
        (e: unknown) => e as InstanceType<typeof OpenAI.APIError>,
      );
      assert.equal(err.status, 400);
      assert.equal(err.code, 'privacy_blocked');
      assert.equal(err.message.includes('API_KEY found in message 2 at characters'), true, err.message);
      assert.equal(err.message.includes('(2 blocked values in this request)'), true, err.message);
      assertNoSecrets(err.message, 'error message');
      assert.equal(upstream.received.length, calls, 'nothing forwarded');
    } finally {
      stages[at] = original;
    }
  });
});
