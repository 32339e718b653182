/**
 * A small, predictable detector for the masking tests, so they exercise masking and
 * re-identification on their own (the real detector has its own tests).
 */
import type { DetectFn, Finding } from '../../gateway/guard/types.js';

export const testNames = ['Alice Johnson', 'Bob Martinez', 'Chloé Dubois', 'Dmitri Ivanov', 'Zoë Ångström'];

const patterns: Array<{ cls: string; re: RegExp }> = [
  { cls: 'EMAIL', re: /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g },
  { cls: 'API_KEY', re: /\bsk-[A-Za-z0-9]{20,}/g },
  { cls: 'PHONE', re: /\+\d{1,3}[ -]\d{3}[ -]\d{3}[ -]\d{4}\b/g },
  { cls: 'PERSON', re: new RegExp(testNames.map((n) => n.replace(/ /g, '\\s+')).join('|'), 'gu') },
];

export const testDetect: DetectFn = (text, options) => {
  const found: Finding[] = [];
  for (const { cls, re } of patterns) {
    if (options?.classes && !options.classes.has(cls)) continue;
    re.lastIndex = 0;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      if (options?.allow?.includes(m[0])) continue;
      found.push({ class: cls, start: m.index, end: m.index + m[0].length, score: 0.9, detector: `test:${cls.toLowerCase()}` });
    }
  }
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  // Non-overlapping, as the DetectFn contract says.
  const out: Finding[] = [];
  for (const f of found) if (out.length === 0 || f.start >= out[out.length - 1]!.end) out.push(f);
  return out;
};
