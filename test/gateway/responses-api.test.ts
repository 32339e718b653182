/**
 * The OpenAI Responses API through the gateway, with the official `openai` SDK
 * (responses.create and responses.stream): served under every prefix, masked on the way out
 * (input string and items, instructions, tool definitions, function_call_output), re-identified
 * on the way back (output items, output_text deltas, function-call argument deltas), metered
 * from `usage`; an upstream that does not serve it gets a clear 400 naming it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { openAiResponse, openAiResponseStream, startScriptedUpstream, type ReceivedRequest, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { ROUTE_PREFIXES } from '../../gateway/server.js';

const EMAIL = 'alice.johnson@acme-corp.com';
const KEY = 'sk-proj-abcDEF1234567890abcdefGHIJ';
const CARD = '4111 1111 1111 1111';
const SECRETS = [EMAIL, KEY, CARD];

function assertClean(req: ReceivedRequest): void {
  for (const s of SECRETS) assert.equal(req.raw.includes(s), false, `upstream received ${s}`);
}

function pseudonymOf(req: ReceivedRequest, cls: string): string {
  const p = req.raw.match(new RegExp(`${cls}_[0-9A-F]{8}`))?.[0];
  assert.ok(p, `upstream got a ${cls} pseudonym`);
  return p;
}

function pieces(text: string, size = 3): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out;
}

const input: OpenAI.Responses.ResponseInput = [
  { role: 'user', content: [{ type: 'input_text', text: `Write to ${EMAIL}; my key is ${KEY}` }] },
  { type: 'function_call', call_id: 'call_0', name: 'lookup', arguments: JSON.stringify({ email: EMAIL }) },
  { type: 'function_call_output', call_id: 'call_0', output: `card on file: ${CARD}` },
];
const tools: OpenAI.Responses.Tool[] = [
  { type: 'function', name: 'mail', description: `Sends mail as ${EMAIL}`, strict: false, parameters: { type: 'object', properties: { to: { type: 'string', description: `e.g. ${EMAIL}` } } } },
];

describe('OpenAI Responses API through the gateway', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;
  let openai: OpenAI;

  before(async () => {
    upstream = await startScriptedUpstream();
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl });
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('responses.create: masks input items, instructions and tools; restores output text and function-call arguments', async () => {
    upstream.setDefault((req) => {
      const email = pseudonymOf(req, 'EMAIL');
      return {
        kind: 'json',
        body: openAiResponse({
          textPieces: [`Done, wrote to ${email}.`],
          functionCalls: [{ id: 'call_1', name: 'mail', argumentFragments: [JSON.stringify({ to: email })] }],
          usage: { input_tokens: 120, output_tokens: 30, total_tokens: 150 },
        }),
      };
    });
    const res = await openai.responses.create({ model: 'openai/gpt-4o-mini', instructions: `Act for ${EMAIL}`, input, tools });
    upstream.setDefault(undefined);
    const sent = upstream.received.at(-1)!;
    assert.equal(sent.path, '/v1/responses');
    assertClean(sent);
    assert.equal(res.output_text, `Done, wrote to ${EMAIL}.`);
    const call = res.output.find((o) => o.type === 'function_call');
    assert.ok(call && call.type === 'function_call');
    assert.deepEqual(JSON.parse(call.arguments), { to: EMAIL });
    const logged = gw.logs.map((l) => JSON.parse(l)).findLast((l) => l.msg === 'request' && l.route === 'responses');
    assert.equal(logged.notes.usage.promptTokens, 120);
    assert.equal(logged.notes.usage.completionTokens, 30);
    assert.ok(logged.notes.redactions.EMAIL >= 4, 'every EMAIL copy was masked');
  });

  it('responses.stream: output_text deltas and argument deltas cut inside pseudonyms come back real, usage metered', async () => {
    upstream.setDefault((req) => {
      const email = pseudonymOf(req, 'EMAIL');
      return {
        kind: 'sse',
        events: openAiResponseStream({
          textPieces: pieces(`Wrote to ${email}, done.`),
          functionCalls: [{ id: 'call_1', name: 'mail', argumentFragments: pieces(JSON.stringify({ to: email, note: `cc ${email}` }), 4) }],
          usage: { input_tokens: 200, output_tokens: 40, total_tokens: 240 },
        }),
      };
    });
    const stream = openai.responses.stream({ model: 'openai/gpt-4o-mini', input: `Mail ${EMAIL} with key ${KEY}`, tools });
    let deltas = '';
    let argDeltas = '';
    for await (const ev of stream) {
      if (ev.type === 'response.output_text.delta') deltas += ev.delta;
      if (ev.type === 'response.function_call_arguments.delta') argDeltas += ev.delta;
    }
    const final = await stream.finalResponse();
    upstream.setDefault(undefined);
    assertClean(upstream.received.at(-1)!);
    assert.equal(deltas, `Wrote to ${EMAIL}, done.`);
    assert.deepEqual(JSON.parse(argDeltas), { to: EMAIL, note: `cc ${EMAIL}` });
    assert.equal(final.output_text, `Wrote to ${EMAIL}, done.`);
    const call = final.output.find((o) => o.type === 'function_call');
    assert.ok(call && call.type === 'function_call');
    assert.deepEqual(JSON.parse(call.arguments), { to: EMAIL, note: `cc ${EMAIL}` });
    const logged = gw.logs.map((l) => JSON.parse(l)).findLast((l) => l.msg === 'request' && l.route === 'responses');
    assert.equal(logged.notes.usage.promptTokens, 200);
    assert.equal(logged.notes.usage.completionTokens, 40);
  });

  it('is served under every prefix', async () => {
    for (const prefix of ROUTE_PREFIXES) {
      const client = new OpenAI({ baseURL: `${gw.url}${prefix}`, apiKey: gw.token, maxRetries: 0 });
      const res = await client.responses.create({ model: 'openai/gpt-4o-mini', input: 'hi' });
      assert.equal(res.output_text, 'Hello from upstream', prefix);
      assert.equal(upstream.received.at(-1)!.path, '/v1/responses');
    }
  });

  it('refuses an input that is neither a string nor items with a 400', async () => {
    const res = await fetch(`${gw.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', input: 42 }),
    });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { error: { message: string } };
    assert.match(body.error.message, /input/);
  });
});

describe('Responses API on an upstream that does not serve it', () => {
  it('answers 400 naming the upstream, without calling it', async () => {
    const upstream = await startScriptedUpstream();
    const gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, config: { upstreams: [{ name: 'local', kind: 'ollama', baseUrl: upstream.baseUrl }] } });
    try {
      const openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
      await assert.rejects(openai.responses.create({ model: 'llama3', input: 'hi' }), (err: unknown) => {
        assert.ok(err instanceof OpenAI.BadRequestError);
        assert.match(err.message, /Responses API .* not served by upstream "local" \(ollama\)/);
        return true;
      });
      assert.equal(upstream.received.length, 0);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
