import { detect } from './gateway/guard/detect.js';
import { loadJsonl, scoreCorpus } from './bench/guard-scoring.js';
const recs = loadJsonl(process.argv[2] ?? '/work/shared/data/pii-public.jsonl');
const s = scoreCorpus(recs, (t) => detect(t).map((f) => ({ start: f.start, end: f.end, label: f.class })));
for (const [c, v] of Object.entries(s.perClass)) console.log(c.padEnd(14), v.tp, v.fp, v.fn, v.precision.toFixed(3), v.recall.toFixed(3), v.f1.toFixed(3));
console.log('micro', s.micro, 'chars', s.charCoverage.toFixed(3), 'code', s.codeFalseFlags, '/', s.codeRecords);
if (process.argv[3]) {
  const want = process.argv[3]; const mode = process.argv[4] ?? 'both';
  for (const r of recs) {
    const preds = detect(r.text);
    const gold = r.spans.filter(g => g.label === want);
    const p = preds.filter(f => f.class === want);
    const fn = gold.filter(g => !p.some(x => x.start < g.end && g.start < x.end));
    const fp = p.filter(x => !gold.some(g => x.start < g.end && g.start < x.end) && !(r.ignore??[]).some(ig => x.start < ig.end && ig.start < x.end));
    if ((mode !== 'fp' && fn.length) ) console.log('FN', r.id, JSON.stringify(r.text.slice(0,300)), fn.map(g => r.text.slice(g.start,g.end)), preds.map(f=>f.class+':'+r.text.slice(f.start,f.end)));
    if ((mode !== 'fn' && fp.length)) console.log('FP', r.id, JSON.stringify(r.text.slice(0,300)), fp.map(g => r.text.slice(g.start,g.end)));
  }
}
