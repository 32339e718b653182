/**
 * `switchboard usage`: recorded spend and tokens by day, role, user or model, with what the
 * exact cache and downshift rules saved — as a table, JSON or CSV.
 */
import { Option, type Command } from 'commander';
import { addDataDirOption, CliError, loadContext, type CommonOptions } from '../cli-support.js';
import { USAGE_GROUPINGS, UsageStore, type UsageGrouping, type UsageSummaryRow } from '../../models/usage-store.js';
import { openGatewayDb } from '../../gateway/store.js';
import { parseWindow } from '../../policies/downshift/simulate.js';

const FORMATS = ['table', 'json', 'csv'] as const;
type Format = (typeof FORMATS)[number];

/** "30d", "12h", "2w" (back from now) or an ISO date/time. */
export function parseSince(text: string, now = Date.now()): number {
  const span = parseWindow(text);
  if (span !== undefined) return now - span;
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const t = Date.parse(text.length === 10 ? `${text}T00:00:00Z` : text);
    if (Number.isFinite(t)) return t;
  }
  throw new CliError(`--since must be a span like 30d, 12h, 2w, 90m or a date like 2026-11-01 (got "${text}")`);
}

const COLUMNS: Array<{ head: string; value: (r: UsageSummaryRow) => string }> = [
  { head: 'requests', value: (r) => String(r.requests) },
  { head: 'prompt tok', value: (r) => String(r.promptTokens) },
  { head: 'completion tok', value: (r) => String(r.completionTokens) },
  { head: 'cached tok', value: (r) => String(r.cachedTokens) },
  { head: 'cost $', value: (r) => r.costUsd.toFixed(4) },
  { head: 'estimated', value: (r) => String(r.estimatedRequests) },
  { head: 'cache hits', value: (r) => String(r.cacheHits) },
  { head: 'cache saved $', value: (r) => r.cacheSavingsUsd.toFixed(4) },
  { head: 'downshifts', value: (r) => String(r.downshifts) },
  { head: 'downshift saved $', value: (r) => r.downshiftSavingsUsd.toFixed(4) },
];

export function formatUsageTable(by: UsageGrouping, rows: UsageSummaryRow[], total: UsageSummaryRow): string {
  const head = [by, ...COLUMNS.map((c) => c.head)];
  const body = [...rows, total].map((r) => [r.key, ...COLUMNS.map((c) => c.value(r))]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  const lines = [line(head), ...body.slice(0, -1).map(line), rule, line(body[body.length - 1]!)];
  return lines.join('\n');
}

function csvCell(v: string): string {
  return /[",\n\r]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

const CSV_FIELDS: Array<keyof UsageSummaryRow> = [
  'key', 'requests', 'promptTokens', 'completionTokens', 'cachedTokens', 'costUsd', 'estimatedRequests',
  'cacheHits', 'cacheSavingsUsd', 'downshifts', 'downshiftSavingsUsd',
];

export function formatUsageCsv(by: UsageGrouping, rows: UsageSummaryRow[], total: UsageSummaryRow): string {
  const head = [by, ...CSV_FIELDS.slice(1)].join(',');
  const lines = [...rows, total].map((r) => CSV_FIELDS.map((f) => csvCell(String(r[f]))).join(','));
  return [head, ...lines].join('\n');
}

/** USD amounts in JSON and CSV: rounded to the micro-dollar, so sums carry no float noise (0.30000000000000004). */
export function roundUsd(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}

export function roundedRow(r: UsageSummaryRow): UsageSummaryRow {
  return { ...r, costUsd: roundUsd(r.costUsd), cacheSavingsUsd: roundUsd(r.cacheSavingsUsd), downshiftSavingsUsd: roundUsd(r.downshiftSavingsUsd) };
}

export type UsageFlags = CommonOptions & { by: UsageGrouping; since: string; tenant?: string; format: Format };

/** Output of `switchboard usage`. */
export function usageReport(flags: UsageFlags): string {
  const ctx = loadContext(flags);
  const since = parseSince(flags.since);
  const db = openGatewayDb(ctx.dataDir.path('gateway.db'));
  try {
    const store = new UsageStore(db);
    const query = { since, ...(flags.tenant ? { tenantId: flags.tenant } : {}) };
    const rows = store.summarize(query, flags.by).map(roundedRow);
    const total = roundedRow(store.total(query));
    const from = new Date(since).toISOString();
    if (flags.format === 'json') return `${JSON.stringify({ by: flags.by, since: from, rows, total }, null, 2)}\n`;
    if (flags.format === 'csv') return `${formatUsageCsv(flags.by, rows, total)}\n`;
    if (total.requests === 0) return `No usage recorded since ${from}.\n`;
    return `Usage since ${from} (UTC days; savings are estimates against the requested model)\n\n${formatUsageTable(flags.by, rows, total)}\n`;
  } finally {
    db.close();
  }
}

export function registerUsageCommand(program: Command): void {
  addDataDirOption(
    program
      .command('usage')
      .description('Report recorded model spend and tokens by day, role, user or model, with cache and downshift savings')
      .addOption(new Option('--by <grouping>', 'group rows by').choices([...USAGE_GROUPINGS]).default('day'))
      .option('--since <when>', 'start: a span back from now (30d, 12h, 2w) or a date (2026-11-01)', '30d')
      .option('--tenant <id>', 'only this tenant')
      .addOption(new Option('--format <format>', 'output format').choices([...FORMATS]).default('table')),
  ).action((flags: UsageFlags) => {
    process.stdout.write(usageReport(flags));
  });
}
