/**
 * Fuzz: requests full of generated personal data and secrets go through a real gateway (cache
 * on, temperature 0). No value the detector finds in a request may show up in what the upstream
 * received, in the gateway's logs (which carry the audit notes), or in gateway.db (cache keys
 * and entries, vault, spool) — while the client still gets the real values back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { faker } from '@faker-js/faker';
import { openAiCompletion, openAiStream, startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { detect } from '../../gateway/guard/detect.js';

const PSEUDONYM = /\b[A-Z][A-Z_]*_[0-9A-F]{8}\b/g;

function secretsText(): string {
  const pick = faker.helpers.arrayElement;
  return pick([
    () => `Hi, I'm ${faker.person.fullName()}, email ${faker.internet.email()} phone ${faker.phone.number({ style: 'international' })}.`,
    () => `card ${faker.finance.creditCardNumber({ issuer: pick(['visa', 'mastercard', 'amex']) })} exp 12/29, IBAN ${faker.finance.iban({ formatted: true })}`,
    () => `export OPENAI_API_KEY=sk-proj-${faker.string.alphanumeric(40)}\nexport GITHUB_TOKEN=ghp_${faker.string.alphanumeric(36)}`,
    () => `postgres://${faker.internet.username()}:${faker.internet.password({ length: 14 })}@db.${faker.internet.domainName()}:5432/app`,
    () => `AWS key AKIA${faker.string.alphanumeric({ length: 16, casing: 'upper' })} from ${faker.internet.ipv4()} by ${faker.person.fullName()}`,
  ])();
}

describe('no detected value leaks (fuzz)', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;
  let client: OpenAI;
  const detected = new Set<string>();

  before(async () => {
    upstream = await startScriptedUpstream();
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl });
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: gw.token, maxRetries: 0 });
    // The model echoes every pseudonym it was given, in text and in a tool call.
    upstream.setDefault((req) => {
      const seen = [...new Set(req.raw.match(PSEUDONYM) ?? [])];
      const content = `Noted: ${seen.join(', ')}`;
      const args = JSON.stringify({ values: seen });
      return (req.body as { stream?: boolean }).stream
        ? { kind: 'sse', events: openAiStream({ contentPieces: content.match(/.{1,5}/gs) ?? [], toolCalls: [{ id: 'c', name: 'note', argumentFragments: args.match(/.{1,7}/gs) ?? [] }] }) }
        : { kind: 'json', body: openAiCompletion({ content, toolCalls: [{ id: 'c', name: 'note', argumentFragments: [args] }] }) };
    });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  it('upstream, logs and gateway.db never see a detected value; the client gets them back', async () => {
    faker.seed(20261125);
    for (let round = 0; round < 12; round++) {
      const texts = [secretsText(), secretsText(), secretsText()];
      const toolArgs = JSON.stringify({ command: secretsText() });
      const values = [...texts, toolArgs].flatMap((t) => detect(t).map((f) => t.slice(f.start, f.end)));
      // JSON.stringify may escape a value inside the tool arguments; compare on the parsed form.
      const argValues = detect(JSON.parse(toolArgs).command).map((f) => JSON.parse(toolArgs).command.slice(f.start, f.end) as string);
      for (const v of [...values, ...argValues]) if (v.length >= 4) detected.add(v);
      const messages: OpenAI.ChatCompletionMessageParam[] = [
        { role: 'system', content: texts[0]! },
        { role: 'user', content: texts[1]! },
        { role: 'assistant', content: null, tool_calls: [{ id: 't', type: 'function', function: { name: 'shell', arguments: toolArgs } }] },
        { role: 'tool', tool_call_id: 't', content: texts[2]! },
      ];
      const stream = round % 2 === 1;
      let content = '';
      let args = '';
      if (stream) {
        for await (const chunk of await client.chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages, temperature: 0, stream: true })) {
          content += chunk.choices[0]?.delta.content ?? '';
          for (const tc of chunk.choices[0]?.delta.tool_calls ?? []) args += tc.function?.arguments ?? '';
        }
      } else {
        const res = await client.chat.completions.create({ model: 'anthropic/claude-sonnet-4', messages, temperature: 0 });
        content = res.choices[0]!.message.content ?? '';
        args = (res.choices[0]!.message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall).function.arguments;
      }
      // Every pseudonym the upstream got came back as a real value.
      assert.equal(content.match(PSEUDONYM), null, `pseudonym left in ${content}`);
      for (const v of JSON.parse(args).values as string[]) assert.ok(detected.has(v) || v.length < 4, `unexpected restored value ${v}`);
    }
    assert.ok(detected.size > 40, `fuzz produced ${detected.size} values`);

    const places: Array<[string, string]> = [
      ...upstream.received.map((r, i): [string, string] => [`upstream request ${i}`, r.raw]),
      ...gw.logs.map((l, i): [string, string] => [`log line ${i}`, l]),
    ];
    for (const file of ['gateway.db', 'gateway.db-wal']) {
      const path = join(gw.dataDir, file);
      if (existsSync(path)) places.push([file, readFileSync(path).toString('latin1') + readFileSync(path).toString('utf8')]);
    }
    assert.ok(places.some(([where]) => where === 'gateway.db'), 'cache and vault wrote gateway.db');
    assert.ok(gw.logs.some((l) => l.includes('"redactions"')), 'audit notes are logged');
    for (const [where, text] of places) {
      for (const v of detected) assert.equal(text.includes(v), false, `${where} contains a detected value (${v.length} chars)`);
    }
  });
});
