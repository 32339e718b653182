import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway } from '../support/gateway.js';
import { openAiStream, startScriptedUpstream } from '../support/scripted-upstream.js';
import { readAuditSource } from '../../gateway/audit/sources.js';
import { readAuditStatus } from '../../gateway/audit/status.js';

test('shutdown waits for the finish hooks of a request in flight before the database closes', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-audit-shutdown-'));
  const upstream = await startScriptedUpstream();
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  upstream.enqueue({ kind: 'sse', events: openAiStream({ contentPieces: ['a', 'b'] }), beforeEvent: (i) => (i === 1 ? held : undefined) });
  const gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, dataDir });
  try {
    const res = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gw.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'openai/gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    const reading = res.text().catch(() => 'cut');
    const closing = gw.close();
    setTimeout(release, 50);
    await closing;
    await reading;
    const actions = readAuditSource(join(dataDir, 'gateway.db')).events.map((e) => e.action);
    assert.deepEqual(actions, ['model.forwarded', 'model.call'], 'the completion was written before the database closed');
    assert.equal(readAuditStatus(join(dataDir, 'gateway.db')).awaiting, 0);
    assert.deepEqual(gw.logs.filter((l) => /finish hook failed|audit event was lost|could not/.test(l)), []);
  } finally {
    release();
    await upstream.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
