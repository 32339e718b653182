import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAiCompletion, openAiStream, startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { openGatewayDb } from '../../platform/sqlite.js';

/** The upstream echoes the user's (masked) text back, as a model quoting its input would. */
function echo(req: { body: unknown }) {
  const body = req.body as { stream?: boolean; messages: Array<{ content: string }> };
  const said = `You wrote: ${body.messages.at(-1)!.content}`;
  return body.stream
    ? { kind: 'sse' as const, events: openAiStream({ contentPieces: [said.slice(0, 10), said.slice(10)] }) }
    : { kind: 'json' as const, body: openAiCompletion({ content: said }) };
}

describe('exact cache with the Privacy Guard', () => {
  let upstream: ScriptedUpstream;
  let gw: TestGateway;
  let dataDir: string;
  const post = (body: unknown) =>
    fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const ask = (email: string, stream = false) => ({
    model: 'anthropic/claude-sonnet-4',
    temperature: 0,
    stream,
    messages: [{ role: 'user', content: `Please send the report to ${email} today.` }],
  });

  before(async () => {
    upstream = await startScriptedUpstream();
    upstream.setDefault(echo);
    dataDir = mkdtempSync(join(tmpdir(), 'sb-cache-privacy-'));
    gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, dataDir });
  });
  after(async () => {
    await gw.close();
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('stores only the masked answer, and every caller gets its own values back on a hit', async () => {
    const alice = 'alice.martin@acme-corp.com';
    const bob = 'bob.lee@globex-mail.io';

    for (const stream of [false, true]) {
      const first = await post(ask(alice, stream));
      assert.equal(first.headers.get('x-switchboard-cache'), 'miss');
      assert.ok((await first.text()).includes(alice), 'reidentified for the client');
      const sentUpstream = upstream.received.at(-1)!.raw;
      assert.ok(!sentUpstream.includes(alice), 'the upstream only saw a pseudonym');

      const again = await post(ask(alice, stream));
      assert.equal(again.headers.get('x-switchboard-cache'), 'hit');
      const againText = await again.text();
      assert.ok(againText.includes(alice), 'a hit is reidentified too');

      const other = await post(ask(bob, stream));
      const otherText = await other.text();
      assert.ok(otherText.includes(bob), `bob gets his own address back (${other.headers.get('x-switchboard-cache')})`);
      assert.ok(!otherText.includes(alice), 'never someone else\'s');
    }

    const db = openGatewayDb(join(dataDir, 'gateway.db'));
    try {
      const rows = db.prepare('SELECT key, payload FROM cache_entries').all() as Array<{ key: string; payload: string }>;
      assert.ok(rows.length >= 2);
      for (const r of rows) {
        assert.ok(!r.payload.includes(alice) && !r.payload.includes(bob), 'no clear-text address in the cache store');
        assert.match(r.key, /^[0-9a-f]{64}$/);
      }
    } finally {
      db.close();
    }
    // Nothing else under the data dir's database files holds the address either (WAL included).
    for (const f of readdirSync(dataDir).filter((n) => n.startsWith('gateway.db'))) {
      const bytes = readFileSync(join(dataDir, f));
      assert.ok(!bytes.includes(alice) && !bytes.includes(bob), `${f} holds a clear-text address`);
    }
  });
});
