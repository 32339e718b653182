/**
 * Re-identification through the wire map: realistic surrogates restored only on word
 * boundaries (streamed or not); held content released as its own chunk ahead of tool calls
 * (Goose drops content sharing a chunk with tool_calls); legacy function_call; Anthropic
 * tool_use input in content_block_start; Responses streams (text, refusal, arguments, done
 * events, items and the final response), for every way of cutting the stream.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { JsonObject, SseEvent } from '../../gateway/context.js';
import { PseudonymMatcher, ReidentifyingStream, reidentifySse, reidentifyText } from '../../gateway/guard/reidentify-stream.js';
import { reidentifyBody } from '../../gateway/guard/reidentify.js';
import { wireMaps } from '../../gateway/wire/index.js';
import { openAiResponse, openAiResponseStream } from '../support/scripted-upstream.js';

const EMAIL = 'jane@corp.io';
const matcher = new PseudonymMatcher([
  { pseudonym: 'EMAIL_22CC33DD', value: EMAIL },
  { pseudonym: 'Maria Lopez', value: 'Alice Johnson' },
  { pseudonym: 'Lopez', value: 'Johnson' },
]);

async function* from(events: SseEvent[]): AsyncGenerator<SseEvent> {
  for (const e of events) yield e;
}
async function collect(it: AsyncIterable<SseEvent>): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}
function cut(text: string, at: number[]): string[] {
  const points = [...new Set(at.map((p) => p % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let prev = 0;
  for (const p of points) (out.push(text.slice(prev, p)), (prev = p));
  out.push(text.slice(prev));
  return out;
}
function chunk(choice: object): SseEvent {
  return { data: JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [choice] }) };
}

describe('realistic surrogates on word boundaries', () => {
  const text = 'Maria Lopez met Lopezville and Maria Lopezes; MariaLopez; Lopez, then Lopez_x and (Lopez).';
  const expected = 'Alice Johnson met Lopezville and Maria Lopezes; MariaLopez; Johnson, then Lopez_x and (Johnson).';

  it('restores only whole-word occurrences', () => {
    assert.equal(reidentifyText(matcher, text), expected);
  });

  it('gives the same result for every way of cutting the text', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(), { maxLength: 12 }), (cuts) => {
        const s = new ReidentifyingStream(matcher);
        let out = '';
        for (const piece of cut(text, cuts)) out += s.push(piece);
        assert.equal(out + s.flush(), expected);
      }),
      { numRuns: 300 },
    );
  });

  it('token pseudonyms still match inside words', () => {
    assert.equal(reidentifyText(matcher, 'mailto:EMAIL_22CC33DDx'), `mailto:${EMAIL}x`);
  });
});

describe('OpenAI chat streams', () => {
  it('sends held content in its own chunk ahead of the first tool-call chunk, and moves content out of a tool_calls chunk', async () => {
    const events = [
      chunk({ index: 0, delta: { role: 'assistant', content: 'Writing to EMAIL_22' }, finish_reason: null }),
      chunk({ index: 0, delta: { content: 'CC33DD now', tool_calls: [{ index: 0, id: 't0', type: 'function', function: { name: 'mail', arguments: '{"to":"EMAIL' } }] }, finish_reason: null }),
      chunk({ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '_22CC33DD"}' } }] }, finish_reason: null }),
      chunk({ index: 0, delta: {}, finish_reason: 'tool_calls' }),
      { data: '[DONE]' },
    ];
    const out = (await collect(reidentifySse(from(events), matcher, wireMaps['openai-chat'].stream!))).filter((e) => e.data !== '[DONE]').map((e) => JSON.parse(e.data!));
    let text = '';
    let args = '';
    let toolCallsSeen = false;
    for (const c of out) {
      const delta = c.choices[0].delta;
      if (delta.tool_calls) {
        toolCallsSeen = true;
        assert.equal(delta.content, undefined, 'no content in a tool_calls chunk');
        args += delta.tool_calls.map((t: { function?: { arguments?: string } }) => t.function?.arguments ?? '').join('');
      }
      if (typeof delta.content === 'string') {
        assert.equal(toolCallsSeen, false, 'all content precedes the tool calls');
        text += delta.content;
      }
    }
    assert.equal(text, `Writing to ${EMAIL} now`);
    assert.deepEqual(JSON.parse(args), { to: EMAIL });
  });

  it('restores the legacy function_call arguments, streamed and not', async () => {
    const events = [
      chunk({ index: 0, delta: { function_call: { name: 'mail', arguments: '{"to":"EMAIL_2' } }, finish_reason: null }),
      chunk({ index: 0, delta: { function_call: { arguments: '2CC33DD"}' } }, finish_reason: 'function_call' }),
    ];
    const out = await collect(reidentifySse(from(events), matcher, wireMaps['openai-chat'].stream!));
    const args = out.map((e) => JSON.parse(e.data!).choices[0].delta.function_call?.arguments ?? '').join('');
    assert.deepEqual(JSON.parse(args), { to: EMAIL });
    const body = { choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: 'not Maria Lopez', function_call: { name: 'mail', arguments: '{"to":"EMAIL_22CC33DD"}' } } }] };
    assert.equal(reidentifyBody(wireMaps['openai-chat'], body, matcher), true);
    assert.deepEqual(JSON.parse(body.choices[0]!.message.function_call.arguments), { to: EMAIL });
    assert.equal(body.choices[0]!.message.refusal, 'not Alice Johnson');
  });
});

describe('citations and annotations', () => {
  it('restores url_citation titles in chat answers, annotation titles in Responses items and Anthropic citations', () => {
    const chat = { choices: [{ message: { content: 'see', annotations: [{ type: 'url_citation', url_citation: { title: 'Profile of Maria Lopez', url: 'https://x.test/EMAIL_22CC33DD', start_index: 0, end_index: 3 } }] } }] };
    assert.equal(reidentifyBody(wireMaps['openai-chat'], chat, matcher), true);
    assert.deepEqual(chat.choices[0]!.message.annotations[0]!.url_citation, { title: 'Profile of Alice Johnson', url: `https://x.test/${EMAIL}`, start_index: 0, end_index: 3 });
    const responses = { output: [{ type: 'message', content: [{ type: 'output_text', text: 'x', annotations: [{ type: 'url_citation', title: 'Maria Lopez', url: 'u' }] }] }] };
    assert.equal(reidentifyBody(wireMaps['openai-responses'], responses, matcher), true);
    assert.equal(responses.output[0]!.content[0]!.annotations[0]!.title, 'Alice Johnson');
    const anthropic = { content: [{ type: 'text', text: 'x', citations: [{ type: 'char_location', cited_text: 'mail EMAIL_22CC33DD', document_title: 'Maria Lopez' }] }] };
    assert.equal(reidentifyBody(wireMaps['anthropic-messages'], anthropic, matcher), true);
    assert.deepEqual(anthropic.content[0]!.citations[0], { type: 'char_location', cited_text: `mail ${EMAIL}`, document_title: 'Alice Johnson' });
  });
});

describe('Anthropic streams', () => {
  it('restores tool_use input given whole in content_block_start', async () => {
    const start = { event: 'content_block_start', data: JSON.stringify({ type: 'content_block_start', index: 0, content_block: { type: 'tool_use', id: 't', name: 'mail', input: { to: 'EMAIL_22CC33DD', names: ['Maria Lopez'] } } }) };
    const [out] = await collect(reidentifySse(from([start]), matcher, wireMaps['anthropic-messages'].stream!));
    assert.deepEqual(JSON.parse(out!.data!).content_block.input, { to: EMAIL, names: ['Alice Johnson'] });
  });
});

describe('Responses streams', () => {
  it('restores deltas, done texts, items and the final response alike for every cut', async () => {
    const text = 'Sent to EMAIL_22CC33DD for Maria Lopez.';
    const expected = `Sent to ${EMAIL} for Alice Johnson.`;
    const argsText = JSON.stringify({ to: 'EMAIL_22CC33DD', who: 'Maria Lopez' });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 8 }), async (textCuts, argCuts) => {
        const events = openAiResponseStream({ textPieces: cut(text, textCuts), functionCalls: [{ id: 'call_1', name: 'mail', argumentFragments: cut(argsText, argCuts) }] })
          .map((e) => e as SseEvent);
        const out = await collect(reidentifySse(from(events), matcher, wireMaps['openai-responses'].stream!));
        let deltas = '';
        let argDeltas = '';
        let completed: JsonObject | undefined;
        for (const e of out) {
          const p = JSON.parse(e.data!);
          assert.equal(e.event, p.type);
          if (p.type === 'response.output_text.delta') deltas += p.delta;
          if (p.type === 'response.function_call_arguments.delta') argDeltas += p.delta;
          if (p.type === 'response.output_text.done') assert.equal(p.text, expected);
          if (p.type === 'response.function_call_arguments.done') assert.deepEqual(JSON.parse(p.arguments), { to: EMAIL, who: 'Alice Johnson' });
          if (p.type === 'response.content_part.done') assert.equal(p.part.text, expected);
          if (p.type === 'response.completed') completed = p.response;
        }
        assert.equal(deltas, expected);
        assert.deepEqual(JSON.parse(argDeltas), { to: EMAIL, who: 'Alice Johnson' });
        const output = completed!['output'] as Array<{ type: string; content?: Array<{ text: string }>; arguments?: string }>;
        assert.equal(output[0]!.content![0]!.text, expected);
        assert.deepEqual(JSON.parse(output[1]!.arguments!), { to: EMAIL, who: 'Alice Johnson' });
      }),
      { numRuns: 150 },
    );
  });

  it('restores a non-stream response body', () => {
    const body = openAiResponse({ textPieces: ['for Maria Lopez'], functionCalls: [{ id: 'c', name: 'm', argumentFragments: ['{"to":"EMAIL_22CC33DD"}'] }] }) as unknown as JsonObject;
    assert.equal(reidentifyBody(wireMaps['openai-responses'], body, matcher), true);
    const output = body['output'] as Array<{ content?: Array<{ text: string }>; arguments?: string }>;
    assert.equal(output[0]!.content![0]!.text, 'for Alice Johnson');
    assert.equal(output[1]!.arguments, `{"to":"${EMAIL}"}`);
  });
});
