/**
 * `switchboard usage`: recorded spend and tokens by day, role, user or model, with what the
 * exact cache and downshift rules saved — as a table, JSON or CSV. With `--org`, the same for the
 * whole org, read from the controller's ledger (GET /api/v1/ledger/spend).
 */
import { Option, type Command } from 'commander';
import { addDataDirOption, CliError, isoTimeFlag, loadContext, type CommonOptions } from '../cli-support.js';
import { USAGE_GROUPINGS, UsageStore, type UsageGrouping, type UsageSummaryRow } from '../../models/usage-store.js';
import { openGatewayDb } from '../../platform/sqlite.js';
import { parseWindow } from '../../policies/downshift/simulate.js';
import { controllerClient, type ControllerClientFlags } from '../controller-client.js';
import { SPEND_GROUPINGS, type SpendReport, type SpendRow } from '../../models/ledger-contract.js';

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

export type UsageFlags = CommonOptions & ControllerClientFlags & {
  by: UsageGrouping;
  since: string;
  tenant?: string;
  format: Format;
  org?: boolean;
  groupBy?: string;
  from?: string;
  to?: string;
};

const ORG_COLUMNS: Array<{ head: string; field: keyof SpendRow; usd?: boolean }> = [
  { head: 'requests', field: 'requests' },
  { head: 'prompt tok', field: 'promptTokens' },
  { head: 'completion tok', field: 'completionTokens' },
  { head: 'cost $', field: 'costUsd', usd: true },
  { head: 'cache hits', field: 'cacheHits' },
  { head: 'cache saved $', field: 'cacheSavingsUsd', usd: true },
  { head: 'downshifts', field: 'downshifts' },
  { head: 'downshift saved $', field: 'downshiftSavingsUsd', usd: true },
];

export function formatOrgSpend(report: SpendReport, format: Format): string {
  const rows: SpendRow[] = [...report.rows, { key: 'total', ...report.totals }];
  const cell = (r: SpendRow, c: (typeof ORG_COLUMNS)[number]) => (c.usd ? (r[c.field] as number).toFixed(4) : String(r[c.field]));
  if (format === 'json') return `${JSON.stringify(report, null, 2)}\n`;
  if (format === 'csv') {
    const head = [report.groupBy, ...ORG_COLUMNS.map((c) => c.field)].join(',');
    return `${[head, ...rows.map((r) => [csvCell(r.key), ...ORG_COLUMNS.map((c) => String(c.usd ? roundUsd(r[c.field] as number) : r[c.field]))].join(','))].join('\n')}\n`;
  }
  if (report.totals.requests === 0) return `No org usage recorded from ${report.from} to ${report.to}.\n`;
  const head = [report.groupBy, ...ORG_COLUMNS.map((c) => c.head)];
  const body = rows.map((r) => [r.key, ...ORG_COLUMNS.map((c) => cell(r, c))]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const lines = [line(head), ...body.slice(0, -1).map(line), widths.map((w) => '-'.repeat(w)).join('  '), line(body[body.length - 1]!)];
  return `Org usage from ${report.from} to ${report.to} (days in ${report.timeZone})\n\n${lines.join('\n')}\n`;
}

/** Output of `switchboard usage --org`. */
export async function orgUsageReport(flags: UsageFlags): Promise<string> {
  const groupBy = flags.groupBy ?? 'day';
  if (!(SPEND_GROUPINGS as readonly string[]).includes(groupBy)) throw new CliError(`--group-by must be one of ${SPEND_GROUPINGS.join(', ')} (got "${groupBy}")`);
  const from = isoTimeFlag('--from', flags.from);
  const to = isoTimeFlag('--to', flags.to);
  const query = new URLSearchParams({ groupBy });
  if (from) query.set('from', from);
  if (to) query.set('to', to);
  if (flags.tenant) query.set('tenant', flags.tenant);
  const report = await controllerClient(flags).json<SpendReport>('GET', `/api/v1/ledger/spend?${query}`);
  return formatOrgSpend(report, flags.format);
}

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
      .addOption(new Option('--format <format>', 'output format').choices([...FORMATS]).default('table'))
      .option('--org', "the whole org's usage, from the controller's ledger (needs an admin or cost-owner token)")
      .option('--controller <url>', 'with --org: controller URL (default: controller.url in switchboard.yaml)')
      .option('--token-env <name>', 'with --org: environment variable holding a controller token (default: this gateway\'s sign-in or enrolment)')
      .option('--group-by <grouping>', `with --org: ${SPEND_GROUPINGS.join('|')} (default day, in the tenant time zone)`)
      .option('--from <time>', 'with --org: start, a date or ISO date-time (default 30 days before --to)')
      .option('--to <time>', 'with --org: end, exclusive (default now)')
      .addHelpText('after', '\nExamples:\n  switchboard usage --by model --since 7d\n  switchboard usage --org --group-by department --from 2026-11-01 --format csv'),
  ).action(async (flags: UsageFlags) => {
    if (!flags.org && (flags.groupBy !== undefined || flags.from !== undefined || flags.to !== undefined || flags.controller !== undefined)) {
      throw new CliError('--group-by, --from, --to and --controller go with --org (for this gateway\'s own usage use --by and --since)');
    }
    process.stdout.write(flags.org ? await orgUsageReport(flags) : usageReport(flags));
  });
}
