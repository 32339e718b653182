import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, isRetryableError, parseRetryAfter, sleep, type RetryPolicy } from '../../gateway/upstream/retry.js';

const policy: RetryPolicy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 1000, maxRetryAfterMs: 20_000 };

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');

  it('reads delta-seconds, including fractions and whitespace', () => {
    assert.equal(parseRetryAfter('3', now), 3000);
    assert.equal(parseRetryAfter(' 0 ', now), 0);
    assert.equal(parseRetryAfter('1.5', now), 1500);
  });

  it('reads an HTTP-date relative to now, and a past date as 0', () => {
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:07 GMT', now), 7000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:59:00 GMT', now), 0);
  });

  it('takes the first of repeated headers', () => {
    assert.equal(parseRetryAfter(['2', '9'], now), 2000);
  });

  it('returns undefined for absent or unparseable values', () => {
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter('', now), undefined);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter('-5', now), undefined);
  });
});

describe('backoffMs (exponential, full jitter)', () => {
  it('is bounded by base·2^(attempt-1) and by maxDelayMs', () => {
    assert.equal(backoffMs(policy, 1, () => 0.999999), 100);
    assert.equal(backoffMs(policy, 2, () => 0.999999), 200);
    assert.equal(backoffMs(policy, 3, () => 0.999999), 400);
    assert.equal(backoffMs(policy, 5, () => 0.999999), 1000);
    assert.equal(backoffMs(policy, 30, () => 0.999999), 1000);
  });

  it('can be as low as 0 (full jitter) and spreads across the range', () => {
    assert.equal(backoffMs(policy, 3, () => 0), 0);
    const samples = Array.from({ length: 2000 }, () => backoffMs(policy, 3));
    assert.ok(samples.every((s) => s >= 0 && s <= 400));
    assert.ok(samples.some((s) => s < 100) && samples.some((s) => s > 300), 'jitter covers the range');
  });
});

describe('isRetryableError', () => {
  it('retries connection-level failures, found on the error or its cause', () => {
    assert.equal(isRetryableError(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })), true);
    assert.equal(isRetryableError(new Error('fetch failed', { cause: Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }) })), true);
  });

  it('does not retry other errors', () => {
    assert.equal(isRetryableError(new Error('no code')), false);
    assert.equal(isRetryableError(Object.assign(new Error('bad'), { code: 'UND_ERR_INVALID_ARG' })), false);
    assert.equal(isRetryableError('string'), false);
  });
});

describe('sleep', () => {
  it('rejects at once when the signal aborts', async () => {
    const ac = new AbortController();
    const pending = sleep(60_000, ac.signal);
    ac.abort(new Error('client gone'));
    await assert.rejects(pending, /client gone/);
  });
});
