/**
 * Audit and bundle benchmark: `npm run bench:audit [-- --events 20000]`.
 *
 * Prints, per operation, the per-item cost and P50/P99 where it is per call:
 *   - spool append (hash + canonical JSON + SQLite insert, the work the audit finish hook does
 *     after each model call), measured one call at a time;
 *   - the hash alone (canonical JSON + SHA-256);
 *   - verifying the whole chain (what `switchboard audit verify` does);
 *   - verifying a signed policy bundle (signature, claims, profile schema), done per poll update.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { openGatewayDb } from '../platform/sqlite.js';
import { AuditSpool, type AuditFacts } from '../gateway/audit/spool.js';
import { computeEventHash } from '../audit/event.js';
import { verifyChains } from '../audit/verify-chain.js';
import { BundleKeyring } from '../controller/bundles/keyring.js';
import { signBundle } from '../controller/bundles/sign.js';
import { ProfileCatalog } from '../controller/profiles/catalog.js';
import { bundleBodyFor, validateBundleBody } from '../policies/bundle/body.js';
import { verifyBundle } from '../gateway/bundles/verify.js';

const { values } = parseArgs({ options: { events: { type: 'string', default: '20000' }, help: { type: 'boolean', default: false } } });
if (values.help) {
  process.stdout.write('Usage: npm run bench:audit -- [--events N]\n\nMeasures audit spool appends, chain hashing and verification, and signed bundle verification.\n');
  process.exit(0);
}
const n = Number(values.events);
if (!Number.isInteger(n) || n < 100) {
  process.stderr.write('--events must be an integer >= 100\n');
  process.exit(2);
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
const us = (ms: number) => `${(ms * 1000).toFixed(1)} µs`;

const facts = (i: number): AuditFacts => ({
  ts: new Date().toISOString(),
  tenantId: 'acme',
  actor: { type: 'user', id: 'ana@acme', role: 'finance' },
  action: 'model.call',
  target: 'anthropic/claude-sonnet-4',
  result: 'ok',
  reason: null,
  policyVersion: '3f2a9c0d1e4b5a6c',
  redactions: [{ class: 'EMAIL', count: 2 }, { class: 'PERSON', count: 1 }],
  cost: { tokens: 1200 + i, usd: 0.0042 },
  traceId: `0f6c1d2e-${i}`,
});

const dir = mkdtempSync(join(tmpdir(), 'sb-bench-audit-'));
try {
  process.stdout.write(`audit bench: ${n} events, node ${process.version}, load ${loadavg()[0]!.toFixed(1)}\n`);
  const db = openGatewayDb(join(dir, 'gateway.db'));
  const spool = new AuditSpool(db);
  for (let i = 0; i < 200; i++) spool.append(facts(i)); // warm-up
  const samples: number[] = [];
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const s = performance.now();
    spool.append(facts(i));
    samples.push(performance.now() - s);
  }
  const total = performance.now() - t0;
  samples.sort((a, b) => a - b);
  process.stdout.write(`spool append (hash + insert):  p50 ${us(pct(samples, 50))}  p99 ${us(pct(samples, 99))}  ${Math.round(n / (total / 1000))} events/s\n`);

  // The request-path cost of durability: auditForwarded awaits the group commit of its event
  // before the request goes upstream. Before this existed the request path waited for nothing.
  const fwd: number[] = [];
  for (let i = 0; i < Math.min(n, 5000); i++) {
    const s = performance.now();
    await spool.write({ ...facts(i), action: 'model.forwarded' }, { opensRequest: true, dropOnFailure: true });
    fwd.push(performance.now() - s);
  }
  fwd.sort((a, b) => a - b);
  process.stdout.write(`forwarded event, awaited (one request alone): p50 ${us(pct(fwd, 50))}  p99 ${us(pct(fwd, 99))}\n`);
  // Concurrent requests: 32 events written in one tick share one transaction (group commit).
  const group: number[] = [];
  for (let round = 0; round < Math.min(n, 5000) / 32; round++) {
    const s = performance.now();
    await Promise.all(Array.from({ length: 32 }, (_, i) => spool.write(facts(i))));
    group.push((performance.now() - s) / 32);
  }
  group.sort((a, b) => a - b);
  process.stdout.write(`group commit of 32 events: p50 ${us(pct(group, 50))} per event\n`);
  await spool.synced();

  const events = [...spool.events()];
  const h0 = performance.now();
  for (const e of events) computeEventHash(e);
  process.stdout.write(`event hash (JCS + SHA-256):    ${us((performance.now() - h0) / events.length)} per event\n`);

  const v0 = performance.now();
  const report = verifyChains(events);
  const vMs = performance.now() - v0;
  process.stdout.write(`verify chain of ${events.length}:       ${vMs.toFixed(0)} ms (${us(vMs / events.length)} per event), ok=${report.ok}\n`);
  db.close();

  const keyring = await BundleKeyring.loadOrCreate(dir, { bundleTtlMs: 86_400_000 });
  const profile = ProfileCatalog.load([ProfileCatalog.defaultDirs(dir)[0]!]).get('finance')!;
  const signed = await signBundle(keyring, 'finance', bundleBodyFor(profile) as unknown as Record<string, unknown>, 86_400_000);
  const jwks = keyring.jwks();
  const opts = { jwks, role: 'finance', validate: validateBundleBody };
  for (let i = 0; i < 50; i++) await verifyBundle(signed.jws, opts);
  const bSamples: number[] = [];
  for (let i = 0; i < 500; i++) {
    const s = performance.now();
    await verifyBundle(signed.jws, opts);
    bSamples.push(performance.now() - s);
  }
  bSamples.sort((a, b) => a - b);
  process.stdout.write(`bundle verify (${signed.jws.length} B JWS): p50 ${us(pct(bSamples, 50))}  p99 ${us(pct(bSamples, 99))}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
