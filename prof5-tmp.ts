import { DETECTORS, detect } from './gateway/guard/detect.js';
import { loadJsonl } from './bench/guard-scoring.js';
const recs = [...loadJsonl('test/fixtures/guard/corpus.jsonl'), ...loadJsonl('/work/shared/data/pii-public.jsonl')];
let big = ''; for (const r of recs) big += r.text + '\n\n';
const chunks: string[] = []; for (let i = 0; i + 4096 <= big.length; i += 4096) chunks.push(big.slice(i, i + 4096));
for (let k = 0; k < 5; k++) for (const c of chunks) detect(c);
const R = 20;
for (const d of DETECTORS) {
  const c0 = process.cpuUsage();
  for (let k = 0; k < R; k++) for (const c of chunks) { const o:any[]=[]; if (d.applies(c)) d.scan(c, o); }
  const u = process.cpuUsage(c0); const s = (u.user + u.system) / 1e6;
  console.log(d.name.padEnd(16), (s * 1e3 / (R * chunks.length)).toFixed(4), 'ms/4KB', ((R * chunks.length * 4096) / 1e6 / s).toFixed(1), 'MB/s');
}
const c0 = process.cpuUsage();
for (let k = 0; k < R; k++) for (const c of chunks) detect(c);
const u = process.cpuUsage(c0); const s = (u.user + u.system) / 1e6;
console.log('TOTAL detect'.padEnd(16), (s * 1e3 / (R * chunks.length)).toFixed(4), 'ms/4KB', ((R * chunks.length * 4096) / 1e6 / s).toFixed(1), 'MB/s');
