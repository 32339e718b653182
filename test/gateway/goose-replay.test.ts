/**
 * Replays the request shapes Goose sends (reference: goose-integration.md §2) with plain fetch /
 * node:http to every route prefix and checks the upstream receives the same JSON, with the caller's
 * token swapped for the upstream key and connection-level headers dropped.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { ROUTE_PREFIXES } from '../../gateway/server.js';
import { openAiCompletion, openAiStream, startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

/** What Goose's openrouter provider sends for an anthropic/* model mid-session (§2.2, §2.3, §2.9). */
function gooseOpenRouterBody(stream: boolean) {
  return {
    model: 'anthropic/claude-sonnet-4',
    messages: [
      { role: 'system', content: [{ type: 'text', text: 'You are a general-purpose AI agent called goose.', cache_control: { type: 'ephemeral' } }] },
      { role: 'user', content: 'What files are in this project?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'toolu_01A',
            type: 'function',
            function: { name: 'developer__shell', arguments: '{"command":"ls"}' },
            // Provider extras echoed back verbatim (e.g. Gemini thought signatures).
            extra_content: { google: { thought_signature: 'c2lnbmF0dXJlLWJ5dGVz' } },
          },
        ],
        reasoning_details: [{ type: 'reasoning.text', text: 'Listing the directory first.', format: 'anthropic-claude-v1', index: 0 }],
      },
      { role: 'tool', tool_call_id: 'toolu_01A', content: 'README.md src package.json' },
      { role: 'user', content: [{ type: 'text', text: 'How many are there?', cache_control: { type: 'ephemeral' } }] },
    ],
    tools: [
      {
        type: 'function',
        function: {
          name: 'developer__shell',
          description: 'Execute a command in the shell.',
          parameters: { type: 'object', required: ['command'], properties: { command: { type: 'string' } } },
          cache_control: { type: 'ephemeral' },
        },
      },
    ],
    max_tokens: 4096,
    temperature: 0.7,
    user: '20251108_1',
    transforms: ['middle-out'],
    reasoning: { effort: 'medium' },
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  };
}

function gooseHeaders(token: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    authorization: `Bearer ${token}`,
    'agent-session-id': '20251108_1',
    'http-referer': 'https://goose-docs.ai',
    'x-title': 'goose',
  };
}

describe('Goose request shapes replayed through every prefix', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startScriptedUpstream();
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  for (const prefix of ROUTE_PREFIXES) {
    it(`${prefix}/chat/completions (non-stream): upstream gets the same JSON bytes, key swapped, Goose headers kept`, async () => {
      const body = gooseOpenRouterBody(false);
      const answer = openAiCompletion({ content: 'Three.', usage: { prompt_tokens: 40, completion_tokens: 2, total_tokens: 42, cost: 0.00012 } });
      upstream.enqueue({ kind: 'json', body: answer, headers: { 'x-ratelimit-remaining': '99' } });
      const res = await fetch(`${gw.url}${prefix}/chat/completions`, { method: 'POST', headers: gooseHeaders(gw.token), body: JSON.stringify(body) });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('x-ratelimit-remaining'), '99');
      assert.ok(res.headers.get('x-request-id'));
      assert.equal(await res.text(), JSON.stringify(answer), 'response bytes unchanged');

      const got = upstream.received.at(-1)!;
      assert.equal(got.method, 'POST');
      assert.equal(got.path, '/v1/chat/completions');
      assert.equal(got.raw, JSON.stringify(body), 'unknown fields and key order untouched');
      assert.equal(got.headers.authorization, 'Bearer sk-upstream-test');
      assert.ok(!JSON.stringify(got.headers).includes(gw.token), 'local token never reaches the upstream');
      assert.equal(got.headers['agent-session-id'], '20251108_1');
      assert.equal(got.headers['http-referer'], 'https://goose-docs.ai');
      assert.equal(got.headers['x-title'], 'goose');
      assert.equal(got.headers['content-type'], 'application/json');
    });

    it(`${prefix}/chat/completions (stream): SSE bytes reach the client as the upstream wrote them`, async () => {
      const events = [
        { comment: ' OPENROUTER PROCESSING' },
        ...openAiStream({ contentPieces: ['Thr', 'ee.'], toolCalls: [{ id: 'call_9', name: 'developer__shell', argumentFragments: ['{"comm', 'and":"wc -l"}'] }] }),
      ];
      upstream.enqueue({ kind: 'sse', events });
      const body = gooseOpenRouterBody(true);
      const res = await fetch(`${gw.url}${prefix}/chat/completions`, { method: 'POST', headers: gooseHeaders(gw.token), body: JSON.stringify(body) });
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
      const expected = events.map((e) => ('comment' in e ? `:${e.comment}\n\n` : `data: ${e.data}\n\n`)).join('');
      assert.equal(await res.text(), expected);
      assert.equal(upstream.received.at(-1)!.raw, JSON.stringify(body));
    });

    it(`${prefix}/models and ${prefix}/embeddings pass through`, async () => {
      const models = await fetch(`${gw.url}${prefix}/models`, { headers: { authorization: `Bearer ${gw.token}` } });
      assert.equal(models.status, 200);
      const list = (await models.json()) as { data: Array<{ id: string }> };
      assert.ok(list.data.some((m) => m.id === 'google/gemini-2.5-flash'));
      assert.equal(upstream.received.at(-1)!.path, '/v1/models');
      assert.equal(upstream.received.at(-1)!.method, 'GET');

      // A distinct input per prefix: identical embeddings requests may be answered by the exact cache.
      const embedBody = { input: [`hello from ${prefix}`], model: 'text-embedding-3-small', encoding_format: 'float' };
      const emb = await fetch(`${gw.url}${prefix}/embeddings`, { method: 'POST', headers: gooseHeaders(gw.token), body: JSON.stringify(embedBody) });
      assert.equal(emb.status, 200);
      assert.equal(upstream.received.at(-1)!.path, '/v1/embeddings');
      assert.equal(upstream.received.at(-1)!.raw, JSON.stringify(embedBody));
    });
  }

  it('drops hop-by-hop headers (fixed list and those named in Connection) and x-switchboard-* headers', async () => {
    const body = JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
    const status = await new Promise<number>((resolve, reject) => {
      const url = new URL(`${gw.url}/v1/chat/completions`);
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            authorization: `Bearer ${gw.token}`,
            connection: 'keep-alive, x-hop-secret',
            'keep-alive': 'timeout=5',
            'x-hop-secret': 'only-for-this-hop',
            'proxy-authorization': 'Basic cHJveHk6cGFzcw==',
            te: 'trailers',
            cookie: 'session=abc',
            'x-switchboard-task-id': 'task-7',
            'x-custom-header': 'kept',
            'openai-organization': 'org-123',
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(status, 200);
    const h = upstream.received.at(-1)!.headers;
    for (const dropped of ['keep-alive', 'x-hop-secret', 'proxy-authorization', 'te', 'cookie', 'x-switchboard-task-id']) {
      assert.equal(h[dropped], undefined, `${dropped} must not be forwarded`);
    }
    assert.equal(h['x-custom-header'], 'kept');
    assert.equal(h['openai-organization'], 'org-123');
    assert.equal(h.authorization, 'Bearer sk-upstream-test');
    assert.equal(upstream.received.at(-1)!.raw, body);
  });
});

describe('OpenRouter attribution headers when configured', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;

  before(async () => {
    upstream = await startScriptedUpstream();
    gw = await startTestGateway({
      upstreamUrl: upstream.baseUrl,
      config: { attribution: { referer: 'https://switchboard.example', title: 'Switchboard' } },
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('adds HTTP-Referer and X-Title to every upstream call', async () => {
    const res = await fetch(`${gw.url}/api/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.token}` },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    const h = upstream.received.at(-1)!.headers;
    assert.equal(h['http-referer'], 'https://switchboard.example');
    assert.equal(h['x-title'], 'Switchboard');
  });
});
