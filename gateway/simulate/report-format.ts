/** Renders a simulation report as an aligned text table (for people) or JSON (for scripts). */
import type { SimulationReport } from '../../policies/downshift/simulate.js';

function usd(v: number): string {
  const sign = v < 0 ? '-' : '';
  const a = Math.abs(v);
  if (a === 0) return '$0.00';
  return `${sign}$${a >= 100 ? a.toFixed(2) : a >= 0.01 ? a.toFixed(4) : a.toFixed(6)}`;
}

function pct(saving: number, actual: number): string {
  return actual > 0 ? `${((saving / actual) * 100).toFixed(1)}%` : '–';
}

function table(header: string[], rows: string[][], rightAligned: ReadonlySet<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function formatSimulationTable(r: SimulationReport, window: string): string {
  const rows = r.rules.map((p) => [
    p.rule,
    String(p.requests),
    String(p.changed),
    usd(p.actualUsd),
    usd(p.projectedUsd),
    usd(p.savingUsd),
    pct(p.savingUsd, p.actualUsd),
    Object.entries(p.models)
      .sort((a, b) => b[1] - a[1])
      .map(([m, n]) => `${m} (${n})`)
      .join(', '),
  ]);
  rows.push([
    '(no rule)',
    String(r.uncaught.requests),
    '0',
    usd(r.uncaught.actualUsd),
    usd(r.uncaught.projectedUsd),
    usd(r.uncaught.actualUsd - r.uncaught.projectedUsd),
    pct(r.uncaught.actualUsd - r.uncaught.projectedUsd, r.uncaught.actualUsd),
    'requested model',
  ]);
  const out = [
    `Replayed ${r.records} recorded requests from the last ${window} (${r.passedThrough} cache hits or failed requests kept as they were).`,
    '',
    table(['rule', 'caught', 'changed', 'actual', 'projected', 'saving', 'saving %', 'sent to'], rows, new Set([1, 2, 3, 4, 5, 6])),
    '',
    `Total: actual ${usd(r.actualUsd)}, projected ${usd(r.projectedUsd)}, saving ${usd(r.savingUsd)} (${pct(r.savingUsd, r.actualUsd)}).`,
  ];
  if (r.rules.some((p) => p.requests > 0) || r.uncaught.requests > 0) {
    out.push(`Budget conditions were evaluated as if budget pressure were "${r.assumedBudget}" (records do not keep it; see --assume-budget).`);
  }
  if (r.unpriced > 0) out.push(`${r.unpriced} requests used a model without a registry price; they are kept at their actual cost.`);
  out.push(`Caveat: ${r.caveat}`);
  return `${out.join('\n')}\n`;
}
