/**
 * `switchboard audit verify [store-or-file]` checks an audit trail for edited, removed,
 * reordered or forked events (and, in a database, columns that disagree with the hashed
 * event) and lists recorded losses; `switchboard audit status` shows this gateway's spool:
 * pending, quarantined, losses, shipping state and alerts; `switchboard audit export` writes
 * events as ndjson or CSV from this gateway's local spool or from a controller.
 */
import { createWriteStream, existsSync } from 'node:fs';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { addDataDirOption, CliError, loadContext, parseUrl, type CommonOptions } from '../cli-support.js';
import { AuditSourceError, readAuditSource, type AuditSource } from '../../gateway/audit/sources.js';
import type { AuditEvent } from '../../audit/event.js';
import { verifyChains } from '../../audit/verify-chain.js';
import { needsAttention, readAuditStatus, type AuditStatus } from '../../gateway/audit/status.js';
import { CSV_HEADER, toCsvRow, toNdjsonLine, type ExportFormat } from '../../audit/export-format.js';
import { controllerTokenProvider } from '../../gateway/bundles/controller-link.js';

interface VerifyFlags extends CommonOptions {
  json?: boolean;
}

interface ExportFlags extends CommonOptions {
  format: string;
  out?: string;
  controller?: string;
  tokenEnv?: string;
  tenant?: string;
  actor?: string;
  action?: string;
  from?: string;
  to?: string;
}

function parseTime(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new CliError(`${flag} must be a date or ISO time like 2026-11-01 or 2026-11-01T12:00:00Z (got "${value}")`);
  return new Date(ms).toISOString();
}

/** Reads an audit store or export file; a file that is not one is the user's mistake, told in one line. */
function openAuditSource(path: string): AuditSource {
  try {
    return readAuditSource(path);
  } catch (err) {
    if (err instanceof AuditSourceError) throw new CliError(err.message);
    throw err;
  }
}

export function registerAuditCommands(program: Command): void {
  const audit = program.command('audit').description('Check and export the hash-chained audit trail (model calls, redactions, denials, cost)');

  addDataDirOption(
    audit
      .command('verify')
      .description('Check an audit trail for edited, removed, reordered or forked events; exit 1 if any is found')
      .argument('[store-or-file]', 'a gateway.db, a controller SQLite database, or an ndjson/CSV export (default: <data-dir>/gateway.db)')
      .option('--json', 'print the report as JSON')
      .addHelpText('after', '\nExamples:\n  switchboard audit verify\n  switchboard audit verify audit-2026-11.ndjson\n  switchboard audit verify /var/lib/switchboard/controller.db'),
  ).action((target: string | undefined, flags: VerifyFlags) => {
    const { dataDir } = loadContext(flags);
    const path = target ?? dataDir.path('gateway.db');
    if (!target && !existsSync(path)) throw new CliError(`no audit store at ${path} (this gateway has not recorded any calls yet); pass a file to verify`);
    const source = openAuditSource(path);
    const report = verifyChains(source.events);
    const ok = report.ok && source.unreadable.length === 0 && source.columnEdits.length === 0;
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ path, kind: source.kind, ...report, ok, unreadable: source.unreadable, columnEdits: source.columnEdits }, null, 2)}\n`);
    } else {
      const out: string[] = [`${path} (${source.kind}): ${report.events} events in ${report.chains.length} chain(s)`];
      for (const c of report.chains) {
        out.push(`  chain ${c.chainId}: ${c.events} events, seq ${c.firstSeq}..${c.lastSeq}, head ${c.headHash.slice(0, 16)}${c.firstSeq > 1 ? ' (starts after pruned or unexported events)' : ''}`);
      }
      for (const u of source.unreadable) out.push(`  UNREADABLE ${u.where}: ${u.message}`);
      for (const p of report.problems) out.push(`  ${p.kind.toUpperCase()} chain ${p.chainId}: ${p.message}`);
      for (const c of source.columnEdits) out.push(`  EDITED-COLUMN ${c.where}: ${c.message}`);
      for (const l of report.losses) out.push(`  ${l.kind === 'gap' ? 'LOST' : 'INTERRUPTED'} chain ${l.chainId} seq ${l.seq}: ${l.message}`);
      const problems = report.problems.length + source.unreadable.length + source.columnEdits.length;
      const losses = report.losses.length > 0 ? `; ${report.losses.length} recorded loss(es) listed above` : '';
      out.push(ok ? `OK: every chain is intact${losses}` : `TAMPERED: ${problems} problem(s) found${losses}`);
      process.stdout.write(`${out.join('\n')}\n`);
    }
    if (!ok) process.exitCode = 1;
  });

  addDataDirOption(
    audit
      .command('status')
      .description("Show this gateway's audit spool: events waiting to ship, events the controller refused (quarantined), recorded losses, shipping state and alerts; exit 1 if any needs attention")
      .option('--json', 'print the status as JSON'),
  ).action((flags: VerifyFlags) => {
    const { dataDir } = loadContext(flags);
    const path = dataDir.path('gateway.db');
    if (!existsSync(path)) throw new CliError(`no audit store at ${path} (this gateway has not recorded any calls yet)`);
    let status: AuditStatus;
    try {
      status = readAuditStatus(path);
    } catch (err) {
      if (err instanceof AuditSourceError) throw new CliError(err.message);
      throw err;
    }
    if (flags.json) {
      process.stdout.write(`${JSON.stringify({ path, ...status, attention: needsAttention(status) }, null, 2)}\n`);
    } else {
      const ship = status.shipping;
      const out = [
        `${path}: chain ${status.chainId ?? '(none yet)'}, ${status.events} events, head seq ${status.headSeq}`,
        `  waiting to ship: ${status.pending}`,
        `  quarantined (refused by the controller): ${status.quarantined.length}`,
        ...status.quarantined.slice(0, 20).map((q) => `    seq ${q.seq} at ${q.at}: ${q.reason}`),
        `  recorded losses: ${status.gaps} gap record(s), ${status.interrupted} interrupted request(s)`,
        `  requests forwarded and not yet completed: ${status.awaiting}`,
        `  shipping: ${ship === null ? 'never shipped (no controller, or nothing sent yet)' : ship.failures > 0 ? `FAILING (${ship.failures} attempt(s)) since ${ship.lastErrorAt}: ${ship.lastError}` : `ok, last success ${ship.lastSuccessAt}`}`,
        `  alerts (newest first): ${status.alerts.length === 0 ? 'none' : ''}`,
        ...status.alerts.map((a) => `    ${a.at} ${a.kind}: ${a.message}`),
      ];
      out.push(needsAttention(status) ? 'ATTENTION: see above' : 'OK');
      process.stdout.write(`${out.join('\n')}\n`);
    }
    if (needsAttention(status)) process.exitCode = 1;
  });

  addDataDirOption(
    audit
      .command('export')
      .description("Export audit events as ndjson or CSV, from this gateway's local spool or from a controller")
      .option('--format <format>', 'ndjson or csv', 'ndjson')
      .option('--out <file>', 'write to this file instead of stdout')
      .option('--controller <url>', 'export from this controller (GET /api/v1/audit/export) instead of the local spool')
      .option('--token-env <name>', 'environment variable holding a controller token with the admin or auditor role (default: controller.tokenEnv/tokenFile from the config)')
      .option('--tenant <id>', 'only this tenant (controller export)')
      .option('--actor <id>', 'only this actor (controller export)')
      .option('--action <name>', 'only this action, e.g. model.call or policy.denied (controller export)')
      .option('--from <time>', 'events at or after this time')
      .option('--to <time>', 'events before this time')
      .addHelpText('after', '\nExamples:\n  switchboard audit export --format csv --out audit.csv\n  switchboard audit export --controller https://ctl.acme.internal:8788 --token-env SB_AUDITOR_TOKEN --from 2026-11-01'),
  ).action(async (flags: ExportFlags) => {
    if (flags.format !== 'ndjson' && flags.format !== 'csv') throw new CliError(`--format must be ndjson or csv (got "${flags.format}")`);
    const format: ExportFormat = flags.format;
    const from = parseTime('--from', flags.from);
    const to = parseTime('--to', flags.to);
    const { dataDir, config } = loadContext(flags);
    const sink: Writable = flags.out ? createWriteStream(flags.out) : process.stdout;
    if (flags.controller) {
      const base = parseUrl('--controller', flags.controller);
      let token: string;
      if (flags.tokenEnv) {
        token = process.env[flags.tokenEnv]?.trim() ?? '';
        if (!token) throw new CliError(`--token-env: environment variable ${flags.tokenEnv} is not set`);
      } else if (config.controller) {
        try {
          token = await controllerTokenProvider(config.controller, dataDir.root, process.env)();
        } catch (err) {
          throw new CliError((err as Error).message);
        }
      } else {
        throw new CliError('a controller token is needed: pass --token-env NAME (a token with the admin or auditor role)');
      }
      const query = new URLSearchParams({ format });
      for (const [key, value] of [['tenant', flags.tenant], ['actor', flags.actor], ['action', flags.action], ['from', from], ['to', to]] as const) {
        if (value !== undefined) query.set(key, value);
      }
      let res: Response;
      try {
        res = await fetch(`${base}/api/v1/audit/export?${query}`, { headers: { authorization: `Bearer ${token}` } });
      } catch (err) {
        throw new CliError(`cannot reach the controller at ${base}: ${(err as Error).message}`);
      }
      if (!res.ok || !res.body) {
        const text = await res.text();
        let message = text.slice(0, 300);
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? message;
        } catch {
          // not JSON: show the text
        }
        throw new CliError(`controller refused the export (HTTP ${res.status}): ${message}`);
      }
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), sink, { end: Boolean(flags.out) });
      return;
    }
    const path = dataDir.path('gateway.db');
    if (!existsSync(path)) throw new CliError(`no audit store at ${path} (this gateway has not recorded any calls yet)`);
    const source = openAuditSource(path);
    const filters: Array<(e: AuditEvent) => boolean> = [];
    if (flags.tenant) filters.push((e) => e.tenantId === flags.tenant);
    if (flags.actor) filters.push((e) => e.actor.id === flags.actor);
    if (flags.action) filters.push((e) => e.action === flags.action);
    if (from) filters.push((e) => e.ts >= from);
    if (to) filters.push((e) => e.ts < to);
    async function* lines(): AsyncGenerator<string> {
      if (format === 'csv') yield CSV_HEADER;
      for (const e of source.events) {
        if (filters.every((f) => f(e))) yield format === 'csv' ? toCsvRow(e) : toNdjsonLine(e);
      }
    }
    // stdout stays open (other output may follow); a file is closed when done.
    await pipeline(Readable.from(lines()), sink, { end: Boolean(flags.out) });
  });
}
