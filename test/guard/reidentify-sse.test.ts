import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { SseEvent } from '../../gateway/context.js';
import { PseudonymMatcher, reidentifyAnthropicSse, reidentifyOpenAiSse } from '../../gateway/guard/reidentify-stream.js';

const matcher = new PseudonymMatcher([
  { pseudonym: 'EMAIL_22CC33DD', value: 'jane@corp.io' },
  { pseudonym: 'PERSON_0A0B0C0D', value: 'Zoë "Z" Ångström' },
]);
const content = 'Hi PERSON_0A0B0C0D 😀, I wrote to EMAIL_22CC33DD.';
const expectedContent = 'Hi Zoë "Z" Ångström 😀, I wrote to jane@corp.io.';
const args = JSON.stringify({ to: 'EMAIL_22CC33DD', name: 'PERSON_0A0B0C0D' });
const expectedArgs = { to: 'jane@corp.io', name: 'Zoë "Z" Ångström' };

function cut(text: string, at: number[]): string[] {
  const points = [...new Set(at.map((p) => p % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let prev = 0;
  for (const p of points) (out.push(text.slice(prev, p)), (prev = p));
  out.push(text.slice(prev));
  return out;
}

async function* from(events: SseEvent[]): AsyncGenerator<SseEvent> {
  for (const e of events) yield e;
}

async function collect(it: AsyncIterable<SseEvent>): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  for await (const e of it) out.push(e);
  return out;
}

function openAiChunk(choice: object): SseEvent {
  return { data: JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [choice] }) };
}

/** Content pieces for choice 0, then tool-call argument pieces for two calls, then finish, usage, [DONE]. */
function openAiStream(contentPieces: string[], argPieces: string[]): SseEvent[] {
  const events: SseEvent[] = [{ comment: 'keep-alive' }];
  for (const p of contentPieces) events.push(openAiChunk({ index: 0, delta: { content: p }, finish_reason: null }));
  for (const call of [0, 1]) {
    events.push(openAiChunk({ index: 0, delta: { tool_calls: [{ index: call, id: `call_${call}`, type: 'function', function: { name: 'send', arguments: '' } }] }, finish_reason: null }));
    for (const p of argPieces) events.push(openAiChunk({ index: 0, delta: { tool_calls: [{ index: call, function: { arguments: p } }] }, finish_reason: null }));
  }
  events.push(openAiChunk({ index: 0, delta: {}, finish_reason: 'tool_calls' }));
  events.push({ data: JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } }) });
  events.push({ data: '[DONE]' });
  return events;
}

/** What an OpenAI client assembles from the stream; also checks the stream's shape. */
function assembleOpenAi(events: SseEvent[]) {
  let text = '';
  const calls = new Map<number, { id?: string; args: string }>();
  let finishedAt = -1;
  events.forEach((e, i) => {
    if (e.data === undefined || e.data === '[DONE]') return;
    const chunk = JSON.parse(e.data);
    assert.equal(chunk.id, 'chatcmpl-1');
    for (const c of chunk.choices) {
      if (c.finish_reason) finishedAt = i;
      else assert.equal(finishedAt, -1, 'no delta after finish_reason');
      if (typeof c.delta.content === 'string') text += c.delta.content;
      for (const tc of c.delta.tool_calls ?? []) {
        const call = calls.get(tc.index) ?? { args: '' };
        if (tc.id) call.id = tc.id;
        call.args += tc.function.arguments;
        calls.set(tc.index, call);
      }
    }
  });
  assert.equal(events.at(-1)!.data, '[DONE]');
  return { text, calls };
}

describe('reidentifyOpenAiSse', () => {
  it('restores content and tool-call arguments for every cutting of the stream', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 10 }), async (contentCuts, argCuts) => {
        const out = await collect(reidentifyOpenAiSse(from(openAiStream(cut(content, contentCuts), cut(args, argCuts))), matcher));
        const { text, calls } = assembleOpenAi(out);
        assert.equal(text, expectedContent);
        assert.equal(calls.size, 2);
        for (const [i, call] of calls) {
          assert.equal(call.id, `call_${i}`);
          assert.deepEqual(JSON.parse(call.args), expectedArgs);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('flushes held text before the chunk that ends the choice, even when it carries text', async () => {
    const events = [
      openAiChunk({ index: 0, delta: { content: 'to EMAIL_22CC' }, finish_reason: null }),
      openAiChunk({ index: 0, delta: { content: '33DD. Bye PERSON_0A' }, finish_reason: 'stop' }),
    ];
    const out = await collect(reidentifyOpenAiSse(from(events), matcher));
    const chunks = out.map((e) => JSON.parse(e.data!));
    assert.deepEqual(chunks.map((c) => c.choices[0].delta.content ?? ''), ['to ', 'jane@corp.io. Bye PERSON_0A', '']);
    assert.deepEqual(chunks.map((c) => c.choices[0].finish_reason), [null, null, 'stop']);
  });

  it('keeps one re-identifier per choice when choices interleave (n > 1)', async () => {
    const events = [
      openAiChunk({ index: 0, delta: { content: 'A: EMAIL_22' }, finish_reason: null }),
      openAiChunk({ index: 1, delta: { content: 'B: PERSON_0A0B' }, finish_reason: null }),
      openAiChunk({ index: 0, delta: { content: 'CC33DD' }, finish_reason: null }),
      openAiChunk({ index: 1, delta: { content: '0C0D!' }, finish_reason: null }),
      openAiChunk({ index: 0, delta: {}, finish_reason: 'stop' }),
      openAiChunk({ index: 1, delta: {}, finish_reason: 'stop' }),
      { data: '[DONE]' },
    ];
    const out = await collect(reidentifyOpenAiSse(from(events), matcher));
    const text = ['', ''];
    for (const e of out) {
      if (e.data === '[DONE]') continue;
      for (const c of JSON.parse(e.data!).choices) text[c.index] += c.delta.content ?? '';
    }
    assert.deepEqual(text, ['A: jane@corp.io', 'B: Zoë "Z" Ångström!']);
  });

  it('passes through events it does not understand, keep-alives and errors', async () => {
    const events: SseEvent[] = [{ comment: 'ping' }, { data: 'not json' }, { data: JSON.stringify({ error: { message: 'upstream failed' } }) }];
    assert.deepEqual(await collect(reidentifyOpenAiSse(from(events), matcher)), events);
  });
});

describe('reidentifyAnthropicSse', () => {
  function anthropicStream(textPieces: string[], jsonPieces: string[]): SseEvent[] {
    const ev = (type: string, body: object): SseEvent => ({ event: type, data: JSON.stringify({ type, ...body }) });
    return [
      ev('message_start', { message: { id: 'msg_1', content: [] } }),
      ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
      ...textPieces.map((t) => ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: t } })),
      ev('content_block_stop', { index: 0 }),
      ev('content_block_start', { index: 1, content_block: { type: 'tool_use', id: 'tu', name: 'send', input: {} } }),
      ...jsonPieces.map((p) => ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: p } })),
      ev('content_block_stop', { index: 1 }),
      ev('message_delta', { delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 3 } }),
      ev('message_stop', {}),
    ];
  }

  it('restores text_delta and input_json_delta for every cutting of the stream', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 10 }), async (textCuts, jsonCuts) => {
        const out = await collect(reidentifyAnthropicSse(from(anthropicStream(cut(content, textCuts), cut(args, jsonCuts))), matcher));
        let text = '';
        let json = '';
        const stopped = new Set<number>();
        for (const e of out) {
          const p = JSON.parse(e.data!);
          assert.equal(e.event, p.type);
          if (p.type === 'content_block_stop') stopped.add(p.index);
          if (p.type !== 'content_block_delta') continue;
          assert.equal(stopped.has(p.index), false, 'delta after its block stopped');
          if (p.delta.type === 'text_delta') text += p.delta.text;
          else json += p.delta.partial_json;
        }
        assert.equal(text, expectedContent);
        assert.deepEqual(JSON.parse(json), expectedArgs);
      }),
      { numRuns: 200 },
    );
  });
});
