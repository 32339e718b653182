/**
 * Property: for requests in every wire format with PII and secrets placed in every field of the
 * wire map (fast-check picks which value goes where, and in what sentence), in mask mode none of
 * the values reaches the scripted upstream, and every value comes back in the client's answer —
 * streamed and not — through the official SDKs. The scripted upstream answers with every
 * pseudonym it received, in text and in tool-call arguments, cut into small stream pieces.
 * Embeddings answers carry no text: for them only the first half holds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import {
  anthropicMessage, anthropicStream, openAiCompletion, openAiResponse, openAiResponseStream, openAiStream, startScriptedUpstream,
  type ReceivedRequest, type ScriptedReply, type ScriptedUpstream,
} from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

/** Values every detector build finds on its own (structure or checksum), one per class. */
const VALUES = [
  'dana.whitfield@northwind-mail.com',
  'sk-proj-Q7rT2vX9mK4pL8sN3wB6yZ1c',
  '4111 1111 1111 1111',
  'DE89 3704 0044 0532 0130 00',
  '+1 415 555 0132',
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
  'ghp_16C7e42F292c6912E7710c838347Ae178B4a',
];
/** A card number carried as a JSON number inside tool-call arguments. */
const CARD_NUMBER = 5555555555554444;

// Raw JSON escapes newlines as `\n`, so a word boundary would miss a pseudonym right after one.
const PSEUDONYM = /(?<![A-Z0-9_])[A-Z][A-Z_]*_[0-9A-F]{8}(?![0-9A-F])/g;

/** One field's text: a value (or none) inside one of a few sentence shapes. */
const arbText = fc.record({
  value: fc.integer({ min: -1, max: VALUES.length - 1 }),
  shape: fc.constantFrom((v: string) => v, (v: string) => `please use ${v} today`, (v: string) => `see (${v}), thanks.`, (v: string) => `ref: ${v}.`, (v: string) => `line one\n${v}\nline three`),
});
type TextSpec = { value: number; shape: (v: string) => string };

/** Builds field texts from specs, recording which values were placed. */
class Placement {
  readonly placed = new Set<string>();
  #i = 0;
  constructor(private readonly specs: TextSpec[], readonly withNumber: boolean) {
    if (withNumber) this.placed.add(String(CARD_NUMBER));
  }
  text(): string {
    const s = this.specs[this.#i++ % this.specs.length]!;
    if (s.value < 0) return s.shape('nothing personal here');
    const v = VALUES[s.value]!;
    this.placed.add(v);
    return s.shape(v);
  }
  number(): number {
    return this.withNumber ? CARD_NUMBER : 7;
  }
}

const arbPlacement = fc.tuple(fc.array(arbText, { minLength: 24, maxLength: 24 }), fc.boolean()).map(([specs, n]) => () => new Placement(specs, n));

function pieces(text: string, size = 5): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [''];
}

/** Echo every pseudonym the upstream received, in text and tool arguments, in the route's shape. */
function echo(req: ReceivedRequest): ScriptedReply {
  const seen = [...new Set(req.raw.match(PSEUDONYM) ?? [])];
  const text = `Seen: ${seen.join(' | ')}.`;
  const args = JSON.stringify({ values: seen });
  const body = req.body as { stream?: boolean };
  if (req.path.endsWith('/embeddings')) {
    return { kind: 'json', body: { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1] }], model: 'e', usage: { prompt_tokens: 1, total_tokens: 1 } } };
  }
  if (req.path.endsWith('/messages')) {
    return body.stream
      ? { kind: 'sse', events: anthropicStream({ textPieces: pieces(text), toolUse: { id: 'tu1', name: 'lookup', jsonFragments: pieces(args, 4) } }) }
      : { kind: 'json', body: anthropicMessage({ text, toolUse: { id: 'tu1', name: 'lookup', input: { values: seen } } }) };
  }
  if (req.path.endsWith('/responses')) {
    const spec = { textPieces: pieces(text), functionCalls: [{ id: 'call_9', name: 'lookup', argumentFragments: pieces(args, 4) }] };
    return body.stream ? { kind: 'sse', events: openAiResponseStream(spec) } : { kind: 'json', body: openAiResponse(spec) };
  }
  const toolCalls = [{ id: 'call_9', name: 'lookup', argumentFragments: pieces(args, 4) }];
  return body.stream
    ? { kind: 'sse', events: openAiStream({ contentPieces: pieces(text), toolCalls }) }
    : { kind: 'json', body: openAiCompletion({ content: text, toolCalls }) };
}

function chatBody(p: Placement): OpenAI.ChatCompletionCreateParamsNonStreaming {
  return {
    model: 'openai/gpt-4o-mini',
    messages: [
      { role: 'system', content: p.text(), name: 'ops' },
      { role: 'user', content: [{ type: 'text', text: p.text() }], name: p.text() },
      {
        role: 'assistant', content: p.text(), refusal: p.text(),
        tool_calls: [{ id: 'c0', type: 'function', function: { name: 'lookup', arguments: JSON.stringify({ q: p.text(), n: p.number(), nested: { list: [p.text()] } }) } }],
      },
      { role: 'tool', tool_call_id: 'c0', content: p.text() },
      { role: 'assistant', content: null, function_call: { name: 'lookup', arguments: JSON.stringify({ q: p.text() }) } },
      { role: 'user', content: p.text() },
    ],
    tools: [{ type: 'function', function: { name: 'lookup', description: p.text(), parameters: { type: 'object', properties: { q: { type: 'string', description: p.text() } } } } }],
    response_format: { type: 'json_schema', json_schema: { name: 'r', description: p.text(), schema: { type: 'object', description: p.text() } } },
    prediction: { type: 'content', content: p.text() },
    user: p.text(),
    metadata: { k: p.text() },
  };
}

function anthropicBody(p: Placement): Anthropic.MessageCreateParamsNonStreaming {
  return {
    model: 'anthropic/claude-sonnet-4',
    max_tokens: 100,
    system: [{ type: 'text', text: p.text() }],
    tools: [{ name: 'lookup', description: p.text(), input_schema: { type: 'object', properties: { q: { type: 'string', description: p.text() } } } }],
    metadata: { user_id: p.text() },
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: p.text() },
          { type: 'document', source: { type: 'text', media_type: 'text/plain', data: p.text() }, title: p.text(), context: p.text() },
          { type: 'search_result', source: p.text(), title: p.text(), content: [{ type: 'text', text: p.text() }] },
        ],
      },
      { role: 'assistant', content: [{ type: 'text', text: p.text() }, { type: 'tool_use', id: 't0', name: 'lookup', input: { q: p.text(), n: p.number() } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't0', content: p.text() }, { type: 'text', text: p.text() }] },
    ],
  };
}

function responsesBody(p: Placement): OpenAI.Responses.ResponseCreateParamsNonStreaming {
  return {
    model: 'openai/gpt-4o-mini',
    instructions: p.text(),
    input: [
      { role: 'user', content: [{ type: 'input_text', text: p.text() }] },
      { type: 'message', role: 'assistant', id: 'msg_0', status: 'completed', content: [{ type: 'output_text', text: p.text(), annotations: [] }] },
      { type: 'function_call', call_id: 'c0', name: 'lookup', arguments: JSON.stringify({ q: p.text(), n: p.number() }) },
      { type: 'function_call_output', call_id: 'c0', output: p.text() },
      { role: 'user', content: p.text() },
    ],
    tools: [{ type: 'function', name: 'lookup', description: p.text(), strict: false, parameters: { type: 'object', properties: { q: { type: 'string', description: p.text() } } } }],
    text: { format: { type: 'json_schema', name: 'r', description: p.text(), schema: { type: 'object', description: p.text() } } },
    metadata: { k: p.text() },
    user: p.text(),
  };
}

describe('wire map property: nothing leaks upstream, everything comes back', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;
  let openai: OpenAI;
  let anthropic: Anthropic;

  before(async () => {
    upstream = await startScriptedUpstream();
    upstream.setDefault(echo);
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl });
    openai = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
    anthropic = new Anthropic({ baseURL: gw.url, apiKey: gw.token, maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  function assertNothingLeaked(placed: Set<string>): void {
    const req = upstream.received.at(-1)!;
    for (const v of placed) assert.equal(req.raw.includes(v), false, `upstream received ${v} (${req.path}): ${req.raw}`);
  }
  function assertAllBack(placed: Set<string>, text: string, args: string, how: string): void {
    const values = (JSON.parse(args) as { values: string[] }).values;
    for (const v of placed) {
      assert.ok(text.includes(v), `${how}: answer text lacks ${v}: ${text}`);
      assert.ok(values.includes(v), `${how}: tool arguments lack ${v}`);
    }
  }

  it('OpenAI chat completions', async () => {
    await fc.assert(
      fc.asyncProperty(arbPlacement, async (make) => {
        const p = make();
        const body = chatBody(p);
        const res = await openai.chat.completions.create(body);
        assertNothingLeaked(p.placed);
        const msg = res.choices[0]!.message;
        const call = msg.tool_calls![0]!;
        assert.ok(call.type === 'function');
        assertAllBack(p.placed, msg.content ?? '', call.function.arguments, 'json');

        const stream = await openai.chat.completions.create({ ...chatBody(make()), stream: true });
        let text = '';
        let args = '';
        for await (const chunk of stream) {
          const d = chunk.choices[0]?.delta;
          text += d?.content ?? '';
          args += d?.tool_calls?.[0]?.function?.arguments ?? '';
        }
        assertNothingLeaked(p.placed);
        assertAllBack(p.placed, text, args, 'stream');
      }),
      { numRuns: 12 },
    );
  });

  it('Anthropic messages', async () => {
    await fc.assert(
      fc.asyncProperty(arbPlacement, async (make) => {
        const p = make();
        const res = await anthropic.messages.create(anthropicBody(p));
        assertNothingLeaked(p.placed);
        const text = res.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
        const tool = res.content.find((b) => b.type === 'tool_use');
        assert.ok(tool && tool.type === 'tool_use');
        assertAllBack(p.placed, text, JSON.stringify(tool.input), 'json');

        const final = await anthropic.messages.stream(anthropicBody(make())).finalMessage();
        assertNothingLeaked(p.placed);
        const sText = final.content.flatMap((b) => (b.type === 'text' ? [b.text] : [])).join('');
        const sTool = final.content.find((b) => b.type === 'tool_use');
        assert.ok(sTool && sTool.type === 'tool_use');
        assertAllBack(p.placed, sText, JSON.stringify(sTool.input), 'stream');
      }),
      { numRuns: 12 },
    );
  });

  it('OpenAI Responses', async () => {
    await fc.assert(
      fc.asyncProperty(arbPlacement, async (make) => {
        const p = make();
        const res = await openai.responses.create(responsesBody(p));
        assertNothingLeaked(p.placed);
        const call = res.output.find((o) => o.type === 'function_call');
        assert.ok(call && call.type === 'function_call');
        assertAllBack(p.placed, res.output_text, call.arguments, 'json');

        const stream = openai.responses.stream({ ...responsesBody(make()), stream: true });
        let deltas = '';
        for await (const ev of stream) if (ev.type === 'response.output_text.delta') deltas += ev.delta;
        const final = await stream.finalResponse();
        assertNothingLeaked(p.placed);
        const sCall = final.output.find((o) => o.type === 'function_call');
        assert.ok(sCall && sCall.type === 'function_call');
        assertAllBack(p.placed, deltas, sCall.arguments, 'stream');
        assert.equal(final.output_text, deltas);
      }),
      { numRuns: 12 },
    );
  });

  it('embeddings', async () => {
    await fc.assert(
      fc.asyncProperty(arbPlacement, async (make) => {
        const p = make();
        await openai.embeddings.create({ model: 'e', input: [p.text(), p.text(), p.text()], user: p.text() });
        p.placed.delete(String(CARD_NUMBER));
        assertNothingLeaked(p.placed);
      }),
      { numRuns: 12 },
    );
  });
});
