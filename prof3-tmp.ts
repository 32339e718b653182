import { DETECTORS } from './gateway/guard/detect.js';
import { loadJsonl } from './bench/guard-scoring.js';
const recs = [...loadJsonl('test/fixtures/guard/corpus.jsonl'), ...loadJsonl('/work/shared/data/pii-public.jsonl')];
let big = ''; for (const r of recs) big += r.text + '\n\n';
const chunks: string[] = []; for (let i = 0; i + 4096 <= big.length; i += 4096) chunks.push(big.slice(i, i + 4096));
const tot: Record<string, number[]> = {};
for (let k = 0; k < 30; k++) for (let ci = 0; ci < chunks.length; ci++) { const c = chunks[ci]!;
  for (const d of DETECTORS) { const t = performance.now(); const o:any[]=[]; if (d.applies(c)) d.scan(c, o); const ms = performance.now()-t; if (k >= 10) (tot[d.name] ??= []).push(ms); }
}
for (const [n, a] of Object.entries(tot)) { a.sort((x,y)=>x-y); const mean=a.reduce((x,y)=>x+y,0)/a.length; console.log(n.padEnd(15), 'mean', mean.toFixed(4), 'p50', a[a.length>>1]!.toFixed(4), 'p99', a[Math.floor(a.length*0.99)]!.toFixed(3), 'max', a[a.length-1]!.toFixed(3)); }
