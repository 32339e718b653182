import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { detect } from '../../gateway/guard/detect.js';
import { loadJsonl, scoreCorpus, type CorpusScore } from '../../bench/guard-scoring.js';

/**
 * Accuracy regression floors, set a little below what bench:guard measured (docs/privacy-guard.md),
 * so a change that costs accuracy fails here. Structured classes must stay above the 0.95 F1 goal.
 */
const predict = (text: string) => detect(text).map((f) => ({ start: f.start, end: f.end, label: f.class }));
const ownPath = fileURLToPath(new URL('../fixtures/guard/corpus.jsonl', import.meta.url));
const publicPath = fileURLToPath(new URL('../../../shared/data/pii-public.jsonl', import.meta.url));

function assertFloors(score: CorpusScore, floors: Record<string, number>, recallOne: readonly string[]): void {
  for (const [cls, floor] of Object.entries(floors)) {
    const s = score.perClass[cls];
    assert.ok(s, `no gold or predictions for ${cls}`);
    assert.ok(s.f1 >= floor, `${cls} F1 ${s.f1.toFixed(3)} fell below ${floor} (P ${s.precision.toFixed(3)}, R ${s.recall.toFixed(3)})`);
  }
  for (const cls of recallOne) {
    const s = score.perClass[cls];
    assert.ok(s, `no gold for ${cls}`);
    assert.equal(s.fn, 0, `${cls} missed ${s.fn} of ${s.tp + s.fn}`);
  }
}

describe('detection accuracy', () => {
  it('meets its floors on the generated corpus', () => {
    const score = scoreCorpus(loadJsonl(ownPath), predict);
    assertFloors(score, {
      EMAIL: 0.98, PHONE: 0.97, CREDIT_CARD: 0.98, IBAN: 0.98, US_SSN: 0.98, IP_ADDRESS: 0.98, URL: 0.96,
      DATE_OF_BIRTH: 0.97, API_KEY: 0.97, PRIVATE_KEY: 0.98, JWT: 0.98, PASSWORD: 0.97, CRYPTO_WALLET: 0.98,
      PERSON: 0.95, ADDRESS: 0.97,
    }, ['API_KEY', 'PRIVATE_KEY', 'JWT', 'PASSWORD']);
    assert.ok(score.codeRecords >= 200, 'corpus should hold code-only negatives');
    assert.ok(score.codeFalseFlags / score.codeRecords < 0.02, `${score.codeFalseFlags}/${score.codeRecords} code-only records flagged`);
    assert.ok(score.micro.f1 >= 0.98, `micro F1 ${score.micro.f1.toFixed(3)}`);
    assert.ok(score.cleanFalseFlags / score.cleanRecords <= 0.02, `${score.cleanFalseFlags}/${score.cleanRecords} records without PII flagged`);
  });

  it('meets its floors on the public set', (t) => {
    if (!existsSync(publicPath)) {
      t.skip(`public set not found at ${publicPath}`);
      return;
    }
    const score = scoreCorpus(loadJsonl(publicPath), predict);
    assertFloors(score, {
      EMAIL: 0.98, PHONE: 0.96, CREDIT_CARD: 0.98, IBAN: 0.98, US_SSN: 0.98, IP_ADDRESS: 0.98, URL: 0.98,
      API_KEY: 0.98, PRIVATE_KEY: 0.98, PASSWORD: 0.98, PERSON: 0.93, ADDRESS: 0.93,
    }, ['API_KEY', 'PRIVATE_KEY', 'PASSWORD']);
    assert.ok(score.micro.f1 >= 0.97, `micro F1 ${score.micro.f1.toFixed(3)}`);
    assert.ok(score.cleanFalseFlags / score.cleanRecords <= 0.02, `${score.cleanFalseFlags}/${score.cleanRecords} records without PII flagged`);
  });
});
