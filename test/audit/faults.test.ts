/**
 * Audit under faults, with real processes (the built CLI): the gateway is killed with SIGKILL
 * mid-stream and mid-batch, the controller (SQLite, then PostgreSQL) is killed and restarted
 * while the gateway ships. Then every request the upstream saw is counted against the events
 * stored by the controller: each has its forwarded event and either its completion or a
 * model.interrupted; nothing is missing, duplicated or unexplained.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import OpenAI from 'openai';
import { openAiStream, startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { assertDistFresh, runCli, serveCli, type ServedCli } from '../dist/run-dist.js';
import { TEST_PG_URL, dropSchema } from '../controller/backends.js';
import { readAuditSource } from '../../gateway/audit/sources.js';
import { readAuditStatus } from '../../gateway/audit/status.js';
import { verifyChains } from '../../audit/verify-chain.js';
import { parseExport } from '../../audit/export-format.js';
import type { AuditEvent } from '../../audit/event.js';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Rig {
  ctlDir: string;
  gwDir: string;
  /** --data-dir of the controller. */
  ctlArgs: string[];
  /** --db, for the commands that open the controller database. */
  dbArgs: string[];
  port: number;
  upstream: ScriptedUpstream;
  controller?: ServedCli;
  gateway?: ServedCli;
}

async function startController(rig: Rig): Promise<void> {
  rig.controller = await serveCli(['controller', '--port', String(rig.port), ...rig.ctlArgs, ...rig.dbArgs], { timeoutMs: 60_000 });
}

async function startGateway(rig: Rig): Promise<string> {
  rig.gateway = await serveCli(['gateway', '--port', '0', '--upstream', rig.upstream.baseUrl, '--data-dir', rig.gwDir], { timeoutMs: 60_000 });
  return rig.gateway.url;
}

function client(url: string, token: string): OpenAI {
  return new OpenAI({ baseURL: `${url}/v1`, apiKey: token, maxRetries: 0, timeout: 60_000 });
}

async function controllerEvents(rig: Rig, token: string): Promise<AuditEvent[]> {
  const res = await fetch(`http://127.0.0.1:${rig.port}/api/v1/audit/export`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  const parsed = parseExport(await res.text());
  assert.deepEqual(parsed.problems, []);
  return parsed.events;
}

async function controllerAlerts(rig: Rig, token: string): Promise<Array<{ kind: string; detail: string }>> {
  const res = await fetch(`http://127.0.0.1:${rig.port}/api/v1/audit/alerts?limit=1000`, { headers: { authorization: `Bearer ${token}` } });
  return ((await res.json()) as { alerts: Array<{ kind: string; detail: string }> }).alerts;
}

async function faultRun(dbArgs: string[]): Promise<void> {
  const ctlDir = mkdtempSync(join(tmpdir(), 'sb-fault-ctl-'));
  const gwDir = mkdtempSync(join(tmpdir(), 'sb-fault-gw-'));
  const rig: Rig = { ctlDir, gwDir, ctlArgs: ['--data-dir', ctlDir], dbArgs, port: await freePort(), upstream: await startScriptedUpstream() };
  try {
    await startController(rig);
    const code = (await runCli(['controller', 'enrol-code', '--subject', 'gateway:fault', '--role', 'engineering', ...rig.ctlArgs, ...rig.dbArgs])).stdout.trim();
    writeFileSync(join(gwDir, 'switchboard.yaml'), `controller:\n  url: http://127.0.0.1:${rig.port}\n  audit:\n    batchSize: 7\n    flushIntervalMs: 100\n    maxBackoffMs: 500\n`);
    const enrolled = await runCli(['enrol', '--controller', `http://127.0.0.1:${rig.port}`, '--code', code, '--data-dir', gwDir]);
    assert.equal(enrolled.code, 0, enrolled.stderr);
    const token = (await runCli(['token', '--data-dir', gwDir])).stdout.trim();
    let url = await startGateway(rig);
    let sent = 0;

    // 1. SIGKILL mid-stream: the upstream holds the stream after its first event.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    rig.upstream.enqueue({ kind: 'sse', events: openAiStream({ contentPieces: ['a', 'b', 'c'] }), beforeEvent: (i) => (i === 1 ? held : undefined) });
    const stream = await client(url, token).chat.completions.create({ model: 'openai/gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    sent++;
    await eventually(() => rig.upstream.received.length === 1, 'the upstream got the request');
    // The forwarded event was committed before the upstream saw a byte.
    const duringStream = readAuditSource(join(gwDir, 'gateway.db')).events;
    assert.deepEqual(duringStream.map((e) => e.action), ['model.forwarded']);
    const reading = (async () => {
      try {
        for await (const _chunk of stream) void _chunk;
      } catch {
        // the gateway died: the client sees a cut stream
      }
    })();
    await rig.gateway!.kill();
    release();
    await reading;

    // 2. SIGKILL mid-batch: many requests in flight (and audit batches being shipped).
    url = await startGateway(rig);
    rig.upstream.setDefault(() => ({ kind: 'sse', events: openAiStream({ contentPieces: ['x', 'y'] }), delayMs: 20 }));
    const batch = Array.from({ length: 24 }, (_, i) =>
      client(url, token)
        .chat.completions.create({ model: 'openai/gpt-4o-mini', stream: true, messages: [{ role: 'user', content: `q${i}` }] })
        .then(async (s) => {
          for await (const _c of s) void _c;
        })
        .catch(() => undefined),
    );
    sent += batch.length;
    // `received` counts the stream of step 1 too.
    await eventually(() => rig.upstream.received.length >= 1 + 13, 'half the batch reached the upstream');
    await rig.gateway!.kill();
    await Promise.all(batch);

    // 3. Controller killed and restarted while the gateway ships a steady flow of calls.
    url = await startGateway(rig);
    rig.upstream.setDefault(undefined);
    const flow = (async () => {
      for (let i = 0; i < 30; i++) {
        await client(url, token).chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: `f${i}` }] });
        sent++;
        if (i === 10) await rig.controller!.kill();
        if (i === 20) await startController(rig);
      }
    })();
    await flow;
    await eventually(() => readAuditStatus(join(gwDir, 'gateway.db')).pending === 0, 'the spool drained to the restarted controller');
    await rig.gateway!.stop();

    // Count: every request the upstream saw is accounted for in the controller's store.
    const upstreamSaw = rig.upstream.received.length;
    assert.ok(upstreamSaw <= sent && upstreamSaw >= 1 + 13 + 30, `upstream saw ${upstreamSaw} of ${sent}`);
    const spooled = readAuditSource(join(gwDir, 'gateway.db')).events;
    const admin = (await runCli(['controller', 'admin-token', ...rig.ctlArgs])).stdout.trim();
    const stored = await controllerEvents(rig, admin);
    assert.equal(stored.length, spooled.length, 'events sent = events stored');
    assert.deepEqual(stored.map((e) => e.id).sort(), spooled.map((e) => e.id).sort(), 'the same events, none twice');
    const report = verifyChains(stored);
    assert.deepEqual(report.problems, []);
    const byAction = (a: string) => stored.filter((e) => e.action === a);
    const forwarded = byAction('model.forwarded');
    // A request killed between its forwarded commit and its first upstream byte has a forwarded event the upstream never saw.
    assert.ok(forwarded.length >= upstreamSaw, `a forwarded event for every request the upstream saw (${forwarded.length} >= ${upstreamSaw})`);
    const closed = new Set([...byAction('model.call'), ...byAction('model.interrupted')].map((e) => e.traceId));
    assert.deepEqual(forwarded.filter((f) => !closed.has(f.traceId)).map((f) => f.seq), [], 'every forwarded request is completed or marked interrupted');
    assert.ok(byAction('model.interrupted').length >= 1, 'the killed stream shows as interrupted');
    assert.equal(report.losses.filter((l) => l.kind === 'interrupted').length, byAction('model.interrupted').length);
    // No silent hole: the controller saw no seq gap it could not explain.
    const alerts = await controllerAlerts(rig, admin);
    assert.deepEqual(alerts.filter((a) => a.kind === 'gap' || a.kind === 'fork' || a.kind === 'tampered'), []);
    process.stderr.write(`audit faults (${rig.dbArgs.length ? 'postgres' : 'sqlite'}): client sent ${sent}, upstream saw ${upstreamSaw}, events spooled ${spooled.length}, stored ${stored.length}, interrupted ${byAction('model.interrupted').length}\n`);
  } finally {
    await rig.gateway?.kill();
    await rig.controller?.kill();
    await rig.upstream.close();
    rmSync(ctlDir, { recursive: true, force: true });
    rmSync(gwDir, { recursive: true, force: true });
  }
}

describe('audit under faults (real processes)', () => {
  before(() => assertDistFresh());

  test('SQLite controller', { timeout: 900_000 }, async () => {
    await faultRun([]);
  });

  const schema = `sb_fault_${process.pid}_${randomBytes(4).toString('hex')}`;
  after(async () => dropSchema(schema));
  test('PostgreSQL controller', { timeout: 900_000 }, async () => {
    await faultRun(['--db', `${TEST_PG_URL}?schema=${schema}`]);
  });
});
