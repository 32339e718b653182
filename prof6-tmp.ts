import { personDetector as d } from './gateway/guard/detectors/person.js';
import { loadJsonl } from './bench/guard-scoring.js';
const recs = [...loadJsonl('test/fixtures/guard/corpus.jsonl'), ...loadJsonl('/work/shared/data/pii-public.jsonl')];
let big = ''; for (const r of recs) big += r.text + '\n\n';
const chunks: string[] = []; for (let i = 0; i + 4096 <= big.length; i += 4096) chunks.push(big.slice(i, i + 4096));
for (let k = 0; k < 300; k++) for (const c of chunks) { const o:any[]=[]; d.scan(c, o); }
