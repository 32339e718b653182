import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway } from '../support/gateway.js';
import { openAiStream, startScriptedUpstream } from '../support/scripted-upstream.js';
import { readAuditSource } from '../../gateway/audit/sources.js';
import { readAuditStatus } from '../../gateway/audit/status.js';
import { AuditSpool } from '../../gateway/audit/spool.js';
import { openGatewayDb } from '../../platform/sqlite.js';

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

/** Descriptors this process holds open on `path` (Linux /proc). */
function descriptorsOn(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      // closed while listing
    }
  }
  return n;
}

test('the spool fsyncs the WAL through one kept descriptor, reopens it if the file went, and lets it go at shutdown', { skip: !existsSync('/proc/self/fd') }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-audit-walfd-'));
  const db = openGatewayDb(join(dataDir, 'gateway.db'));
  try {
    const spool = new AuditSpool(db);
    const wal = `${db.name}-wal`;
    const facts = (i: number) => ({ ts: new Date().toISOString(), tenantId: 'local', actor: { type: 'user' as const, id: 'ana', role: null }, action: 'model.call', target: null, result: 'ok' as const, reason: null, policyVersion: null, redactions: [], cost: { tokens: i, usd: 0 }, traceId: `t${i}` });
    const opensBefore = descriptorsOn(wal);
    for (let i = 0; i < 5; i++) {
      await spool.write(facts(i));
      await spool.synced();
    }
    // SQLite holds its own descriptor on the WAL; the spool adds exactly one, however many commits.
    assert.equal(descriptorsOn(wal), opensBefore + 1);
    // A WAL file unlinked under the spool (never by SQLite while this connection is open, but if it
    // happened) is not fsynced through a stale descriptor: it is dropped and the path tried again.
    rmSync(wal);
    await spool.write(facts(9));
    await spool.synced();
    assert.equal(descriptorsOn(wal), 0);
    spool.flush();
    await spool.synced();
    assert.equal(descriptorsOn(wal), 0);
    assert.deepEqual([...spool.events()].map((e) => e.cost.tokens), [0, 1, 2, 3, 4, 9]);
  } finally {
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
