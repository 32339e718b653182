/**
 * Privacy Guard cold-path throughput: how many MB/s detect() scans of realistic agent text it has
 * never seen (no memo sits in detect()): the project's own source code, docs, `git log -p` output
 * as a tool result, and labelled prose with personal data. Prints MB/s (CPU time of this process,
 * so a busy machine hurts less than wall time) for the best and the median round, the time per
 * detector family, and the ratio to one plain regex pass over the same text in the same run.
 * Goal (issue #8): ≥ 50 MB/s.
 *
 * Each 4 KB piece is its own flat string, as JSON.parse hands the gateway each text of a request
 * (one byte per character when the piece allows it), not a slice of the whole two-byte corpus.
 * `--dist` measures the built package (dist/), which is what `switchboard` runs.
 *
 *   npm run bench:guard-throughput [-- --rounds 20 --dist]
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { TextView as TextViewClass } from '../gateway/guard/detectors/text-view.js';
import type { Finding } from '../gateway/guard/types.js';
import { loadDetection } from './support/gateway-build.js';
import { loadJsonl } from './guard-scoring.js';

const HELP = `Usage: npm run bench:guard-throughput -- [options]

Cold-path detect() throughput on 4 KB pieces of this repository's code, docs, git log -p and
labelled prose, in CPU time, best and median round, with a per-family table.

Options:
  --rounds <n>  timed rounds per row (default 20; the best round is the machine's uncontended speed)
  --dist        measure the built package in dist/ (run \`npm run build\` first) instead of the sources
  -h, --help    this text
`;

function fail(message: string): never {
  process.stderr.write(`bench:guard-throughput: ${message}\n(run with --help for usage)\n`);
  process.exit(2);
}

let args;
try {
  args = parseArgs({ options: { rounds: { type: 'string' }, dist: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } }, allowPositionals: true, strict: true });
} catch (err) {
  fail((err as Error).message);
}
if (args.values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
// A bare number is still read as the rounds (the bench's first usage).
const roundsText = args.values.rounds ?? args.positionals[0] ?? '20';
const rounds = Number(roundsText);
if (!Number.isInteger(rounds) || rounds < 1) fail(`--rounds must be an integer ≥ 1 (got "${roundsText}")`);

const root = fileURLToPath(new URL('..', import.meta.url));
let guard;
try {
  guard = await loadDetection(args.values.dist ? 'dist' : 'sources');
} catch (err) {
  fail((err as Error).message);
}
const { DETECTORS, detect } = guard.detect;
const { TextView } = guard.textView;

function filesUnder(dir: string, ext: RegExp, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    if (statSync(p).isDirectory()) filesUnder(p, ext, out);
    else if (ext.test(name)) out.push(p);
  }
  return out.sort();
}

const code = ['gateway', 'controller', 'bin', 'models', 'policies'].flatMap((d) => filesUnder(join(root, d), /\.ts$/))
  .filter((p) => !p.includes('/data/')).map((p) => readFileSync(p, 'utf8')).join('\n');
const docs = filesUnder(join(root, 'docs'), /\.md$/).map((p) => readFileSync(p, 'utf8')).join('\n');
let gitLog = '';
try {
  gitLog = execFileSync('git', ['log', '-p', '-n', '40', '--no-color'], { cwd: root, maxBuffer: 64 << 20 }).toString('utf8').slice(0, 1 << 20);
} catch { /* not a git checkout: skip the tool-result sample */ }
const prose = [...loadJsonl(join(root, 'test/fixtures/guard/corpus.jsonl')), ...loadJsonl(join(root, 'test/fixtures/guard/heldout.jsonl'))]
  .map((r) => r.text).join('\n\n');

/**
 * 4 KB pieces, the size of one message or tool result in an agent turn, each made its own flat
 * string by a JSON round trip, as the gateway gets them (a slice would share the corpus's two-byte
 * storage even where the piece is plain ASCII).
 */
function pieces(text: string, size = 4096): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(JSON.parse(JSON.stringify(text.slice(i, i + size))) as string);
  return out;
}
const samples: Array<[string, string[]]> = [
  ['source code', pieces(code)],
  ['docs (prose)', pieces(docs)],
  ['git log -p (tool result)', pieces(gitLog)],
  ['prose with personal data', pieces(prose)],
];
const all = samples.flatMap(([, p]) => p);

function cpuMs(f: () => void): number {
  const c = process.cpuUsage();
  f();
  const d = process.cpuUsage(c);
  return (d.user + d.system) / 1000;
}
const mb = (ps: readonly string[]) => ps.reduce((n, p) => n + Buffer.byteLength(p), 0) / 1e6;
/** MB/s of the best and of the median round. */
function throughput(ps: readonly string[], f: (t: string) => unknown): { best: number; median: number } {
  for (const p of ps) f(p); // warm-up: one untimed pass compiles every path the rounds take
  const ms: number[] = [];
  for (let r = 0; r < rounds; r++) ms.push(cpuMs(() => { for (const p of ps) f(p); }));
  ms.sort((a, b) => a - b);
  return { best: mb(ps) / (ms[0]! / 1000), median: mb(ps) / (ms[(rounds - 1) >> 1]! / 1000) };
}

console.log('# Privacy Guard cold-path throughput');
console.log(`node ${process.version}, ${args.values.dist ? 'dist/ (built package)' : 'sources (tsx)'}, ${new Date().toISOString()}, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs, ${rounds} round${rounds === 1 ? '' : 's'} (CPU time)\n`);
const reference = /\d/g;
const referenceMbs = throughput(all, (t) => t.match(reference));
console.log('| text | MB | detect() MB/s, best round | median round | best, ratio to one /\\d/g pass |');
console.log('|---|---:|---:|---:|---:|');
for (const [name, ps] of samples) {
  if (ps.length === 0) continue;
  const mbs = throughput(ps, (t) => detect(t));
  console.log(`| ${name} | ${mb(ps).toFixed(2)} | ${mbs.best.toFixed(1)} | ${mbs.median.toFixed(1)} | ${(mbs.best / referenceMbs.best).toFixed(3)} |`);
}
const total = throughput(all, (t) => detect(t));
console.log(`| **all** | ${mb(all).toFixed(2)} | **${total.best.toFixed(1)}** | ${total.median.toFixed(1)} | ${(total.best / referenceMbs.best).toFixed(3)} |`);
console.log(`\none /\\d/g pass (reference), best round: ${referenceMbs.best.toFixed(0)} MB/s\n`);

console.log('| detector family | CPU ms per MB |');
console.log('|---|---:|');
// As in detect(): one TextView per text, built first (its shared scan is its own row), then each
// family reads it. A family run alone would build the view itself and pay the scan again.
const sink: Finding[] = [];
const rows: Array<[string, number]> = [];
let viewBest = Infinity;
const familyBest = new Map<string, number>();
for (let r = 0; r < rounds; r++) {
  let views: TextViewClass[] = [];
  viewBest = Math.min(viewBest, cpuMs(() => {
    views = all.map((p) => new TextView(p));
    for (const v of views) { v.digitRuns(); v.wordHits(); v.separators(); v.hasDigit; v.hasUpper; v.hasAt; v.hasColon; v.hasEquals; v.hasDot; v.lowerKeepsOffsets; v.foldsLikeLower; }
  }));
  for (const d of DETECTORS) {
    const ms = cpuMs(() => {
      for (let i = 0; i < all.length; i++) if (d.applies(all[i]!, views[i])) { sink.length = 0; d.scan(all[i]!, sink, views[i]); }
    });
    familyBest.set(d.name, Math.min(familyBest.get(d.name) ?? Infinity, ms));
  }
}
rows.push(['shared scan (digit runs, keyword search, separators, probes)', viewBest / mb(all)]);
for (const [name, ms] of familyBest) rows.push([name, ms / mb(all)]);
rows.sort((a, b) => b[1] - a[1]);
for (const [name, ms] of rows) console.log(`| ${name} | ${ms.toFixed(2)} |`);
