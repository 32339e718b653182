import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { DEMO_RECEIVED_HEADER, startDemoUpstream } from '../../gateway/demo-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

describe('`switchboard up` demo upstream (no cloud key)', () => {
  let demo: Awaited<ReturnType<typeof startDemoUpstream>>;
  let gw: TestGateway;
  let client: OpenAI;

  before(async () => {
    demo = await startDemoUpstream();
    gw = await startTestGateway({ upstreamUrl: demo.baseUrl });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
  });
  after(async () => {
    await gw.close();
    await demo.close();
  });

  it('shows the masked prompt in a header while the answer comes back re-identified', async () => {
    const prompt = 'Write to jane.doe@acme-corp.io about the renewal, café included';
    const { data, response } = await client.chat.completions
      .create({ model: 'anthropic/claude-sonnet-4', messages: [{ role: 'user', content: prompt }] })
      .withResponse();
    const received = JSON.parse(response.headers.get(DEMO_RECEIVED_HEADER) ?? '""') as string;
    assert.doesNotMatch(received, /jane\.doe@acme-corp\.io/);
    assert.match(received, /^Write to \S+ about the renewal, café included$/);
    assert.equal(data.choices[0]!.message.content, `[demo upstream: no cloud key configured] The model received: ${prompt}`);
  });

  it('streams too', async () => {
    const stream = await client.chat.completions.create({ model: 'x', stream: true, messages: [{ role: 'user', content: 'hello there' }] });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    assert.equal(text, '[demo upstream: no cloud key configured] The model received: hello there');
  });
});
