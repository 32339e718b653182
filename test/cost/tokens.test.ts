import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { JsonObject } from '../../gateway/context.js';
import {
  countTokens,
  encoder,
  encodingForModel,
  estimateCompletionTokens,
  estimatePromptTokens,
  IMAGE_TOKEN_ESTIMATE,
  promptTokensUpperBound,
} from '../../models/tokens.js';

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
    const text = countTokens('You are a helpful assistant.\nWhat is in this picture?', 'o200k_base');
    assert.equal(estimatePromptTokens(body, 'openai', 'openai/gpt-4o'), text + IMAGE_TOKEN_ESTIMATE + 2 * 3 + 3);
    const withTools: JsonObject = { ...body, tools: [{ type: 'function', function: { name: 'developer__shell', description: 'Run a shell command', parameters: { type: 'object' } } }] };
    assert.ok(estimatePromptTokens(withTools, 'openai', 'gpt-4o') > estimatePromptTokens(body, 'openai', 'gpt-4o') + 10);
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
    const expected = countTokens('Be brief.\nList files\n{"cmd":"ls -la"}\na.txt b.txt', 'cl100k_base') + 3 * 3 + 3;
    assert.equal(estimatePromptTokens(body, 'anthropic', 'claude-sonnet-4'), expected);
  });

  it('the byte bound is never below the tiktoken estimate', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 200 }), { minLength: 1, maxLength: 5 }), fc.constantFrom('gpt-4o', 'anthropic/claude-sonnet-4'), (texts, model) => {
        const body = { model, messages: texts.map((t) => ({ role: 'user', content: t })) };
        return promptTokensUpperBound(body, 'openai') >= estimatePromptTokens(body, 'openai', model);
      }),
      { numRuns: 200 },
    );
  });

  it('estimates completion tokens of a response without usage', () => {
    const openai = { choices: [{ index: 0, message: { role: 'assistant', content: 'hello world' } }] };
    assert.equal(estimateCompletionTokens(openai, 'gpt-4o'), 2);
    const anthropic = { content: [{ type: 'text', text: 'hello world' }] };
    assert.equal(estimateCompletionTokens(anthropic, 'claude-3-haiku'), 2);
    assert.equal(estimateCompletionTokens(null, 'gpt-4o'), 0);
  });
});
