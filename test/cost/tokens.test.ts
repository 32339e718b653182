import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { JsonObject } from '../../gateway/context.js';
import { countTokens, encoder, encodingForModel } from '../../models/tokens.js';
import { estimateCompletionTokens, estimatePromptTokens, IMAGE_TOKEN_ESTIMATE, promptTokensUpperBound } from '../../gateway/cost/token-estimates.js';

describe('token estimates', () => {
  it('picks the encoding per model family, with cl100k_base as the documented fallback', () => {
    const o200k = ['gpt-4o', 'openai/gpt-4o-mini', 'openai/gpt-4.1-nano', 'gpt-5', 'openai/gpt-5.1', 'o3-mini', 'openai/o4-mini', 'openai/gpt-oss-120b'];
    const cl100k = ['gpt-4', 'gpt-4-turbo', 'gpt-3.5-turbo', 'openai/gpt-3.5-turbo', 'text-embedding-3-small'];
    const fallback = ['anthropic/claude-sonnet-4', 'google/gemini-2.5-flash', 'meta-llama/llama-3.3-70b-instruct', 'mistral-large', 'x-ai/grok-4'];
    for (const m of o200k) assert.equal(encodingForModel(m), 'o200k_base', m);
    for (const m of [...cl100k, ...fallback]) assert.equal(encodingForModel(m), 'cl100k_base', m);
  });

  it('counts tokens like the reference tokenizers', () => {
    // Reference counts from OpenAI's tiktoken.
    assert.equal(countTokens('hello world', 'cl100k_base'), 2);
    assert.equal(countTokens('hello world', 'o200k_base'), 2);
    assert.equal(countTokens('tiktoken is great!', 'cl100k_base'), 6);
    assert.equal(countTokens('', 'o200k_base'), 0);
    // Special-token text from a user is ordinary text, never an error.
    assert.ok(countTokens('<|endoftext|> and <|im_start|>', 'cl100k_base') > 2);
    assert.equal(encoder('o200k_base'), encoder('o200k_base'), 'encoders are cached');
  });

  it('estimates chat prompts with per-message framing, tools and images', () => {
    const body: JsonObject = {
      model: 'openai/gpt-4o',
      messages: [
        { role: 'system', content: 'You are a helpful assistant.' },
        { role: 'user', content: [{ type: 'text', text: 'What is in this picture?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
      ],
    };
    // Counted per text (so long texts' counts can be memoised), framing per message.
    const text = countTokens('You are a helpful assistant.', 'o200k_base') + countTokens('What is in this picture?', 'o200k_base');
    assert.equal(estimatePromptTokens(body, 'chat', 'openai/gpt-4o'), text + IMAGE_TOKEN_ESTIMATE + 2 * 3 + 3);
    const withTools: JsonObject = { ...body, tools: [{ type: 'function', function: { name: 'developer__shell', description: 'Run a shell command', parameters: { type: 'object' } } }] };
    assert.ok(estimatePromptTokens(withTools, 'chat', 'gpt-4o') > estimatePromptTokens(body, 'chat', 'gpt-4o') + 3);
  });

  it('estimates Anthropic messages bodies (system, tool_use, tool_result)', () => {
    const body = {
      model: 'claude-sonnet-4',
      system: [{ type: 'text', text: 'Be brief.' }],
      messages: [
        { role: 'user', content: 'List files' },
        { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'shell', input: { cmd: 'ls -la' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'a.txt b.txt' }] }] },
      ],
    };
    const expected = ['Be brief.', 'List files', '{"cmd":"ls -la"}', 'a.txt b.txt'].reduce((n, t) => n + countTokens(t, 'cl100k_base'), 0) + 3 * 3 + 3;
    assert.equal(estimatePromptTokens(body, 'messages', 'claude-sonnet-4'), expected);
  });

  it('counts the texts the wire map names, in every format, and not delivery metadata', () => {
    const count = (t: string) => countTokens(t, 'o200k_base');
    const responses: JsonObject = {
      model: 'gpt-4o',
      instructions: 'Answer in French.',
      input: [
        { role: 'user', content: [{ type: 'input_text', text: 'Bonjour' }, { type: 'input_image', image_url: 'https://example.com/a.png' }] },
        { type: 'function_call', call_id: 'c1', name: 'lookup', arguments: '{"q":"x"}' },
        { type: 'function_call_output', call_id: 'c1', output: 'found it' },
      ],
      user: 'user-1234567890',
      metadata: { ticket: 'a long ticket description that is not prompt text' },
    };
    assert.equal(estimatePromptTokens(responses, 'responses', 'gpt-4o'), count('Bonjour') + count('{"q":"x"}') + count('found it') + count('Answer in French.') + IMAGE_TOKEN_ESTIMATE);
    const embeddings: JsonObject = { model: 'text-embedding-3-small', input: ['one text', 'another text'] };
    assert.equal(estimatePromptTokens(embeddings, 'embeddings', 'text-embedding-3-small'), countTokens('one text', 'cl100k_base') + countTokens('another text', 'cl100k_base'));
    // A tool description is read by the model; `user` is not.
    const chat: JsonObject = { model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], user: 'someone@example.com' };
    assert.equal(estimatePromptTokens(chat, 'chat', 'gpt-4o'), count('hi') + 3 + 3);
    const described: JsonObject = { ...chat, tools: [{ type: 'function', function: { name: 'f', description: 'Looks things up in the company wiki' } }] };
    assert.equal(estimatePromptTokens(described, 'chat', 'gpt-4o'), count('hi') + count('Looks things up in the company wiki') + 3 + 3);
  });

  it('a long text counts the same from the memo as afresh', () => {
    const long = 'The quick brown fox jumps over the lazy dog. '.repeat(50);
    const body: JsonObject = { model: 'gpt-4o', messages: [{ role: 'user', content: long }] };
    const first = estimatePromptTokens(body, 'chat', 'gpt-4o');
    assert.equal(first, countTokens(long, 'o200k_base') + 6);
    assert.equal(estimatePromptTokens(structuredClone(body), 'chat', 'gpt-4o'), first);
    // Keyed on the encoding too.
    assert.equal(estimatePromptTokens(body, 'chat', 'anthropic/claude-sonnet-4'), countTokens(long, 'cl100k_base') + 6);
  });

  it('the byte bound is never below the tiktoken estimate', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 200 }), { minLength: 1, maxLength: 5 }), fc.constantFrom('gpt-4o', 'anthropic/claude-sonnet-4'), (texts, model) => {
        const body = { model, messages: texts.map((t) => ({ role: 'user', content: t })) };
        return promptTokensUpperBound(body, 'chat') >= estimatePromptTokens(body, 'chat', model);
      }),
      { numRuns: 200 },
    );
  });

  it('estimates completion tokens of a response without usage', () => {
    const openai = { choices: [{ index: 0, message: { role: 'assistant', content: 'hello world' } }] };
    assert.equal(estimateCompletionTokens(openai, 'chat', 'gpt-4o'), 2);
    const anthropic = { content: [{ type: 'text', text: 'hello world' }] };
    assert.equal(estimateCompletionTokens(anthropic, 'messages', 'claude-3-haiku'), 2);
    assert.equal(estimateCompletionTokens(null, 'chat', 'gpt-4o'), 0);
  });
});
