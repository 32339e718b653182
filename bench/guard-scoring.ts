/**
 * Scores a detector against labelled records. Matching is by overlap: a gold span is found when a
 * prediction of the same class overlaps it; a prediction is right when it overlaps a gold span of its
 * class, and is not counted when it falls inside an `ignore` region. Also reports how many gold
 * characters any prediction covers (what masking would hide) and how many clean code records got flagged.
 */
import { readFileSync } from 'node:fs';

export interface Span { start: number; end: number; label: string }
export interface LabelledRecord {
  id: string;
  text: string;
  spans: Span[];
  ignore?: Array<{ start: number; end: number; label?: string }>;
  source?: string;
  /** Corpus-specific: 'code' marks code/log/config records used for the false-flag rate. */
  kind?: string;
}
export interface Prediction { start: number; end: number; label: string }
export type Predictor = (text: string) => Prediction[];

export interface ClassScore { tp: number; fp: number; fn: number; precision: number; recall: number; f1: number }
export interface CorpusScore {
  perClass: Record<string, ClassScore>;
  micro: ClassScore;
  /** Share of gold characters covered by a prediction of any class. */
  charCoverage: number;
  /** Records of kind 'code' with no gold span that got at least one prediction, and how many there were. */
  codeFalseFlags: number;
  codeRecords: number;
  /** Records of any kind with no gold span, and how many got a prediction outside their `ignore` regions. */
  cleanFalseFlags: number;
  cleanRecords: number;
}

export function loadJsonl(path: string): LabelledRecord[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as LabelledRecord);
}

const overlaps = (a: { start: number; end: number }, b: { start: number; end: number }): boolean =>
  a.start < b.end && b.start < a.end;

function finish(tpGold: number, fn: number, tpPred: number, fp: number): ClassScore {
  const precision = tpPred + fp === 0 ? 1 : tpPred / (tpPred + fp);
  const recall = tpGold + fn === 0 ? 1 : tpGold / (tpGold + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { tp: tpGold, fp, fn, precision, recall, f1 };
}

export function scoreCorpus(records: readonly LabelledRecord[], predict: Predictor, classes?: ReadonlySet<string>): CorpusScore {
  const acc = new Map<string, { tpGold: number; fn: number; tpPred: number; fp: number }>();
  const get = (c: string) => {
    let a = acc.get(c);
    if (!a) acc.set(c, (a = { tpGold: 0, fn: 0, tpPred: 0, fp: 0 }));
    return a;
  };
  let goldChars = 0;
  let coveredChars = 0;
  let codeFalseFlags = 0;
  let codeRecords = 0;
  let cleanFalseFlags = 0;
  let cleanRecords = 0;
  for (const r of records) {
    const all = predict(r.text);
    const preds = classes ? all.filter((p) => classes.has(p.label)) : all;
    const gold = r.spans.filter((s) => !classes || classes.has(s.label));
    for (const g of gold) {
      const a = get(g.label);
      if (preds.some((p) => p.label === g.label && overlaps(p, g))) a.tpGold++;
      else a.fn++;
      goldChars += g.end - g.start;
      for (let i = g.start; i < g.end; i++) if (preds.some((p) => p.start <= i && i < p.end)) coveredChars++;
    }
    for (const p of preds) {
      const a = get(p.label);
      if (gold.some((g) => g.label === p.label && overlaps(p, g))) a.tpPred++;
      else if ((r.ignore ?? []).some((ig) => overlaps(p, ig))) continue;
      else a.fp++;
    }
    if (r.kind === 'code' && gold.length === 0) {
      codeRecords++;
      if (all.length > 0) codeFalseFlags++;
    }
    if (r.spans.length === 0) {
      cleanRecords++;
      if (all.some((p) => !(r.ignore ?? []).some((ig) => overlaps(p, ig)))) cleanFalseFlags++;
    }
  }
  const perClass: Record<string, ClassScore> = {};
  let t = { tpGold: 0, fn: 0, tpPred: 0, fp: 0 };
  for (const [c, a] of [...acc.entries()].sort(([x], [y]) => x.localeCompare(y))) {
    perClass[c] = finish(a.tpGold, a.fn, a.tpPred, a.fp);
    t = { tpGold: t.tpGold + a.tpGold, fn: t.fn + a.fn, tpPred: t.tpPred + a.tpPred, fp: t.fp + a.fp };
  }
  return {
    perClass,
    micro: finish(t.tpGold, t.fn, t.tpPred, t.fp),
    charCoverage: goldChars === 0 ? 1 : coveredChars / goldChars,
    codeFalseFlags,
    codeRecords,
    cleanFalseFlags,
    cleanRecords,
  };
}
