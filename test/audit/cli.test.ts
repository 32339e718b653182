import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildProgram } from '../../bin/program.js';
import { CliError } from '../../bin/cli-support.js';
import { openGatewayDb } from '../../platform/sqlite.js';
import { AuditSpool } from '../../gateway/audit/spool.js';
import { computeEventHash, type AuditEvent } from '../../audit/event.js';

/** Runs the CLI in-process; returns exit code and stdout. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; error?: string }> {
  let stdout = '';
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString();
    return true;
  }) as typeof process.stdout.write;
  process.exitCode = undefined;
  try {
    await buildProgram().exitOverride().parseAsync(['node', 'switchboard', ...args]);
    return { code: Number(process.exitCode ?? 0), stdout };
  } catch (err) {
    if (err instanceof CliError) return { code: err.exitCode, stdout, error: err.message };
    throw err;
  } finally {
    process.stdout.write = write;
    process.exitCode = undefined;
  }
}

function makeStore(dir: string, n: number): void {
  const db = openGatewayDb(join(dir, 'gateway.db'));
  const spool = new AuditSpool(db);
  for (let i = 1; i <= n; i++) {
    spool.append({
      ts: new Date(Date.UTC(2026, 10, 20, 9, 0, i)).toISOString(),
      tenantId: 'acme',
      actor: { type: 'user', id: i === 2 ? 'bob, "the builder"' : 'ana', role: 'finance' },
      action: i === 3 ? 'policy.denied' : 'model.call',
      target: i === 4 ? null : 'openai/gpt-4.1-mini',
      result: i === 3 ? 'denied' : 'ok',
      reason: i === 3 ? 'loadPolicy: model x not allowed' : i === 5 ? '' : null,
      policyVersion: 'v1',
      redactions: i % 2 ? [{ class: 'EMAIL', count: i }] : [],
      cost: { tokens: 10 * i, usd: 0.000123 * i },
      traceId: `req-${i}`,
    });
  }
  db.close();
}

test('audit verify and export: a clean store and its exports verify; every tampering kind is caught', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-audit-cli-'));
  try {
    makeStore(dir, 6);
    const store = join(dir, 'gateway.db');
    const clean = await cli(['audit', 'verify', '--data-dir', dir]);
    assert.equal(clean.code, 0, clean.stdout);
    assert.match(clean.stdout, /gateway-spool\): 6 events in 1 chain/);
    assert.match(clean.stdout, /OK: every chain is intact/);

    for (const format of ['ndjson', 'csv'] as const) {
      const file = join(dir, `audit.${format}`);
      const exported = await cli(['audit', 'export', '--format', format, '--out', file, '--data-dir', dir]);
      assert.equal(exported.code, 0, exported.error);
      const ok = await cli(['audit', 'verify', file, '--data-dir', dir, '--json']);
      assert.equal(ok.code, 0, ok.stdout);
      const report = JSON.parse(ok.stdout) as { ok: boolean; kind: string; events: number };
      assert.deepEqual([report.ok, report.kind, report.events], [true, format, 6]);
    }

    // ndjson: edit, remove, reorder.
    const lines = readFileSync(join(dir, 'audit.ndjson'), 'utf8').trim().split('\n');
    const edited = [...lines];
    edited[2] = edited[2]!.replace('"policy.denied"', '"model.call"');
    const removed = lines.filter((_, i) => i !== 3);
    const reordered = [lines[0]!, lines[2]!, lines[1]!, ...lines.slice(3)];
    const expectations: Array<[string, string[], RegExp]> = [
      ['edited', edited, /EDITED chain .*event seq 3 was modified/],
      ['removed', removed, /REMOVED chain .*event seq 4 is missing/],
      ['reordered', reordered, /REORDERED chain .*seq 2 appears after seq 3/],
    ];
    for (const [kind, content, expected] of expectations) {
      const file = join(dir, `${kind}.ndjson`);
      writeFileSync(file, `${content.join('\n')}\n`);
      const res = await cli(['audit', 'verify', file, '--data-dir', dir]);
      assert.equal(res.code, 1, `${kind} must fail verification`);
      assert.match(res.stdout, expected);
      assert.match(res.stdout, /TAMPERED/);
    }

    // CSV: editing a cell (cost) is caught too.
    const csv = readFileSync(join(dir, 'audit.csv'), 'utf8');
    writeFileSync(join(dir, 'edited.csv'), csv.replace(',60,', ',6,'));
    const csvRes = await cli(['audit', 'verify', join(dir, 'edited.csv'), '--data-dir', dir]);
    assert.equal(csvRes.code, 1, csvRes.stdout);
    assert.match(csvRes.stdout, /EDITED/);

    // The store itself: edit a row, then delete one.
    const { default: Database } = await import('better-sqlite3');
    const db = new Database(store);
    const row = db.prepare('SELECT event FROM audit_events WHERE seq = 2').get() as { event: string };
    const forged = JSON.parse(row.event) as AuditEvent;
    forged.cost.usd = 0;
    forged.hash = computeEventHash(forged);
    db.prepare('UPDATE audit_events SET event = ? WHERE seq = 2').run(JSON.stringify(forged));
    db.close();
    const storeEdited = await cli(['audit', 'verify', store, '--data-dir', dir]);
    assert.equal(storeEdited.code, 1);
    assert.match(storeEdited.stdout, /EDITED chain .*event seq 3 does not link to event seq 2/);
    const db2 = new Database(store);
    db2.prepare('UPDATE audit_events SET event = ? WHERE seq = 2').run(row.event);
    db2.prepare('DELETE FROM audit_events WHERE seq = 5').run();
    db2.close();
    const storeRemoved = await cli(['audit', 'verify', store, '--data-dir', dir]);
    assert.equal(storeRemoved.code, 1);
    assert.match(storeRemoved.stdout, /REMOVED chain .*event seq 5 is missing/);

    // User errors: one clear line, exit 2.
    const missing = await cli(['audit', 'verify', join(dir, 'nope.ndjson'), '--data-dir', dir]);
    assert.equal(missing.code, 2);
    assert.match(missing.error ?? '', /no such file/);
    const badFormat = await cli(['audit', 'export', '--format', 'xml', '--data-dir', dir]);
    assert.equal(badFormat.code, 2);
    assert.match(badFormat.error ?? '', /--format must be ndjson or csv/);
    const badTime = await cli(['audit', 'export', '--from', 'yesterday-ish', '--data-dir', dir]);
    assert.equal(badTime.code, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
