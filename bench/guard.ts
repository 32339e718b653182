/**
 * Privacy Guard detection benchmark: accuracy per class on our generated corpus and on the public
 * set, for our guard and for the npm peers openredaction and redact-pii, then speed (MB/s and
 * per-4 KB-prompt latency). Run: npm run bench:guard
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { OpenRedaction } from 'openredaction';
import { SyncRedactor } from 'redact-pii';
import { detect } from '../gateway/guard/detect.js';
import { loadJsonl, scoreCorpus, type CorpusScore, type LabelledRecord, type Prediction } from './guard-scoring.js';

const CLASSES = ['EMAIL', 'PHONE', 'PERSON', 'ADDRESS', 'CREDIT_CARD', 'IBAN', 'US_SSN', 'IP_ADDRESS', 'URL',
  'DATE_OF_BIRTH', 'API_KEY', 'PRIVATE_KEY', 'JWT', 'PASSWORD', 'CRYPTO_WALLET'];
const KNOWN = new Set(CLASSES);

const ownCorpusPath = fileURLToPath(new URL('../test/fixtures/guard/corpus.jsonl', import.meta.url));
/** Generated once with its own seed from templates written before the detectors were tuned; never tuned on. */
const heldoutPath = fileURLToPath(new URL('../test/fixtures/guard/heldout.jsonl', import.meta.url));
const publicPath = process.env.PII_PUBLIC ?? fileURLToPath(new URL('../../shared/data/pii-public.jsonl', import.meta.url));

// ---- the three systems, each turned into (text) => predictions with our class names ------------
const ours = (text: string): Prediction[] => detect(text).map((f) => ({ start: f.start, end: f.end, label: f.class }));

function openredactionClass(type: string): string {
  const t = type.toUpperCase();
  if (t.includes('EMAIL')) return 'EMAIL';
  if (t.includes('PHONE') || t.includes('MOBILE')) return 'PHONE';
  if (t.includes('CREDIT_CARD') || t === 'CARD_NUMBER') return 'CREDIT_CARD';
  if (t.includes('IBAN')) return 'IBAN';
  if (t.includes('SSN') || t.includes('SOCIAL_SECURITY')) return 'US_SSN';
  if (t.startsWith('IP') || t.includes('IPV')) return 'IP_ADDRESS';
  if (t.includes('URL')) return 'URL';
  if (t.includes('JWT')) return 'JWT';
  if (t.includes('PRIVATE_KEY')) return 'PRIVATE_KEY';
  if (t.includes('PASSWORD')) return 'PASSWORD';
  if (t.includes('BIRTH') || t === 'DOB') return 'DATE_OF_BIRTH';
  if (t.includes('BITCOIN') || t.includes('ETHEREUM') || t.includes('CRYPTO') || t.includes('WALLET')) return 'CRYPTO_WALLET';
  if (t.includes('KEY') || t.includes('TOKEN') || t.includes('SECRET')) return 'API_KEY';
  if (t.includes('ADDRESS') || t.includes('STREET') || t.includes('POSTCODE') || t.includes('ZIP')) return 'ADDRESS';
  if (t.includes('NAME')) return 'PERSON';
  return `OTHER:${t}`;
}
const openredaction = new OpenRedaction({ redactionMode: 'placeholder' });
async function openredactionPredict(text: string): Promise<Prediction[]> {
  const r = await openredaction.detect(text);
  return r.detections.map((d) => ({ start: d.position[0], end: d.position[1], label: openredactionClass(d.type) }));
}

/** redact-pii only returns redacted text; its spans are recovered by aligning the placeholders. */
const REDACT_PII_CLASS: Record<string, string> = {
  PERSON_NAME: 'PERSON', EMAIL_ADDRESS: 'EMAIL', PHONE_NUMBER: 'PHONE', CREDIT_CARD_NUMBER: 'CREDIT_CARD',
  US_SOCIAL_SECURITY_NUMBER: 'US_SSN', IP_ADDRESS: 'IP_ADDRESS', STREET_ADDRESS: 'ADDRESS', ZIPCODE: 'ADDRESS',
  URL: 'URL', PASSWORD: 'PASSWORD', CREDENTIALS: 'PASSWORD', USERNAME: 'OTHER:USERNAME', DIGITS: 'OTHER:DIGITS',
};
const redactPii = new SyncRedactor({
  builtInRedactors: Object.fromEntries(
    ['names', 'emailAddress', 'phoneNumber', 'creditCardNumber', 'usSocialSecurityNumber', 'ipAddress', 'streetAddress',
      'zipcode', 'url', 'password', 'credentials', 'username', 'digits'].map((n) => [n, { enabled: true }]),
  ),
});
const PLACEHOLDER = new RegExp(`\\b(${Object.keys(REDACT_PII_CLASS).join('|')})\\b`, 'g');
function redactPiiPredict(text: string): Prediction[] {
  const redacted = redactPii.redact(text);
  const preds: Prediction[] = [];
  let ri = 0;
  let oi = 0;
  const matches = [...redacted.matchAll(PLACEHOLDER)];
  for (let k = 0; k < matches.length; k++) {
    const m = matches[k]!;
    oi += m.index! - ri; // literal text before the placeholder is unchanged
    const nextLiteralEnd = k + 1 < matches.length ? matches[k + 1]!.index! : redacted.length;
    const literal = redacted.slice(m.index! + m[0].length, nextLiteralEnd);
    const probe = literal.slice(0, Math.min(literal.length, 12));
    const end = probe.length === 0 ? text.length : text.indexOf(probe, oi + 1);
    if (end === -1) break;
    preds.push({ start: oi, end, label: REDACT_PII_CLASS[m[1]!]! });
    oi = end;
    ri = m.index! + m[0].length;
  }
  return preds;
}

// ---- accuracy ----------------------------------------------------------------------------------
async function precompute(records: readonly LabelledRecord[], f: (t: string) => Prediction[] | Promise<Prediction[]>): Promise<Map<string, Prediction[]>> {
  const out = new Map<string, Prediction[]>();
  for (const r of records) out.set(r.text, await f(r.text));
  return out;
}

const pct = (x: number) => (x * 100).toFixed(1).padStart(5);
function printTable(title: string, systems: Array<[string, CorpusScore]>): void {
  console.log(`\n## ${title}\n`);
  console.log(`| class | gold | ${systems.map(([n]) => `${n} P / R / F1`).join(' | ')} |`);
  console.log(`|---|---:|${systems.map(() => '---|').join('')}`);
  const ourScore = systems[0]![1];
  for (const c of CLASSES) {
    const gold = (ourScore.perClass[c]?.tp ?? 0) + (ourScore.perClass[c]?.fn ?? 0);
    if (gold === 0 && systems.every(([, s]) => (s.perClass[c]?.fp ?? 0) === 0)) continue;
    const cells = systems.map(([, s]) => {
      const v = s.perClass[c];
      return v ? `${pct(v.precision)} / ${pct(v.recall)} / ${pct(v.f1)}` : '    — /     — /     —';
    });
    console.log(`| ${c} | ${gold} | ${cells.join(' | ')} |`);
  }
  console.log(`| micro | | ${systems.map(([, s]) => `${pct(s.micro.precision)} / ${pct(s.micro.recall)} / ${pct(s.micro.f1)}`).join(' | ')} |`);
  console.log(`| gold chars covered | | ${systems.map(([, s]) => pct(s.charCoverage) + '%').join(' | ')} |`);
  if (ourScore.cleanRecords > 0) {
    console.log(`| records without PII flagged | | ${systems.map(([, s]) => `${s.cleanFalseFlags}/${s.cleanRecords} (${pct(s.cleanFalseFlags / s.cleanRecords)}%)`).join(' | ')} |`);
  }
  if (ourScore.codeRecords > 0) {
    console.log(`| code-only records flagged | | ${systems.map(([, s]) => `${s.codeFalseFlags}/${s.codeRecords} (${pct(s.codeFalseFlags / s.codeRecords)}%)`).join(' | ')} |`);
  }
}

async function accuracy(name: string, records: LabelledRecord[]): Promise<CorpusScore> {
  const systems: Array<[string, CorpusScore]> = [];
  for (const [sys, f] of [['switchboard', ours], ['openredaction', openredactionPredict], ['redact-pii', redactPiiPredict]] as const) {
    const cached = await precompute(records, f);
    systems.push([sys, scoreCorpus(records, (t) => cached.get(t)!.map((p) => (KNOWN.has(p.label) ? p : p)), KNOWN)]);
    // code false flags count every finding, mapped or not
    const flags = scoreCorpus(records, (t) => cached.get(t)!);
    systems[systems.length - 1]![1].codeFalseFlags = flags.codeFalseFlags;
    systems[systems.length - 1]![1].cleanFalseFlags = flags.cleanFalseFlags;
  }
  printTable(`${name} (${records.length} records)`, systems);
  return systems[0]![1];
}

// ---- speed -------------------------------------------------------------------------------------
function prompts(records: readonly LabelledRecord[], size: number): string[] {
  const out: string[] = [];
  let cur = '';
  for (const r of records) {
    cur += r.text + '\n\n';
    if (cur.length >= size) {
      out.push(cur.slice(0, size));
      cur = '';
    }
  }
  return out;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * Wall-clock numbers suffer when the machine is shared, so CPU time (user + system of this process,
 * from process.cpuUsage) is reported beside them; on an idle machine the two agree.
 */
async function speed(name: string, inputs: string[], f: (t: string) => unknown, rounds: number): Promise<void> {
  for (const t of inputs.slice(0, 20)) await f(t); // warm-up: JIT, lazy lexicon load
  const wall: number[] = [];
  const cpu: number[] = [];
  let bytes = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (let r = 0; r < rounds; r++) {
    for (const t of inputs) {
      const c = process.cpuUsage();
      const s = process.hrtime.bigint();
      await f(t);
      wall.push(Number(process.hrtime.bigint() - s) / 1e6);
      const d = process.cpuUsage(c);
      cpu.push((d.user + d.system) / 1e3);
      bytes += Buffer.byteLength(t);
    }
  }
  const totalWall = Number(process.hrtime.bigint() - t0) / 1e9;
  const dc = process.cpuUsage(c0);
  const totalCpu = (dc.user + dc.system) / 1e6;
  wall.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  const mb = bytes / 1e6;
  console.log(`| ${name} | ${(mb / totalWall).toFixed(1)} | ${(mb / totalCpu).toFixed(1)} | ${quantile(wall, 0.5).toFixed(3)} | ${quantile(cpu, 0.5).toFixed(3)} | ${quantile(wall, 0.95).toFixed(3)} | ${quantile(wall, 0.99).toFixed(3)} |`);
}

const own = loadJsonl(ownCorpusPath);
console.log('# Privacy Guard detection benchmark');
console.log(`node ${process.version}, ${new Date().toISOString()}`);
const ownScore = await accuracy('Switchboard corpus (test/fixtures/guard/corpus.jsonl)', own);
let publicRecords: LabelledRecord[] = [];
try {
  publicRecords = loadJsonl(publicPath);
} catch {
  console.log(`\n(public set not found at ${publicPath}; set PII_PUBLIC to score it)`);
}
if (publicRecords.length > 0) await accuracy('Public set (shared/data/pii-public.jsonl)', publicRecords);
const heldout = loadJsonl(heldoutPath);
await accuracy('Held-out set (test/fixtures/guard/heldout.jsonl, not tuned on)', heldout);

const fourK = prompts([...own, ...publicRecords], 4096);
console.log(`\n## Speed (${fourK.length} prompts of 4 KB from both corpora)\n`);
console.log(`load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')} on ${os.cpus().length} CPUs\n`);
console.log('| system | MB/s wall | MB/s CPU | P50 ms wall | P50 ms CPU | P95 ms wall | P99 ms wall |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
await speed('switchboard', fourK, (t) => detect(t), 20);
await speed('openredaction', fourK, (t) => openredaction.detect(t), 1);
await speed('redact-pii', fourK, (t) => redactPii.redact(t), 1);
const codeOnly = prompts(own.filter((r) => r.kind === 'code' && r.spans.length === 0), 4096);
await speed('switchboard, code-only 4 KB prompts', codeOnly, (t) => detect(t), 20);
const big = fourK.join('').slice(0, 1 << 20);
await speed('switchboard (one 1 MB text)', [big], (t) => detect(t), 5);
console.log(`\ncode-only records flagged by switchboard on our corpus: ${ownScore.codeFalseFlags}/${ownScore.codeRecords}`);
