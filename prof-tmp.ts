import { DETECTORS } from './gateway/guard/detect.js';
import { loadJsonl } from './bench/guard-scoring.js';
const recs = [...loadJsonl('test/fixtures/guard/corpus.jsonl'), ...loadJsonl('/work/shared/data/pii-public.jsonl')];
let big = ''; for (const r of recs) big += r.text + '\n\n';
const chunks: string[] = []; for (let i = 0; i + 4096 <= big.length; i += 4096) chunks.push(big.slice(i, i + 4096));
for (const d of DETECTORS) {
  for (const c of chunks) { const o:any[]=[]; if (d.applies(c)) d.scan(c, o); }
  const t = performance.now();
  for (let k = 0; k < 5; k++) for (const c of chunks) { const o:any[]=[]; if (d.applies(c)) d.scan(c, o); }
  const ms = performance.now() - t;
  console.log(d.name.padEnd(16), (ms / (5 * chunks.length)).toFixed(3), 'ms/4KB', ((5 * chunks.length * 4096) / 1e6 / (ms / 1000)).toFixed(1), 'MB/s');
}
