import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker } from '../../gateway/upstream/breaker.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('circuit breaker (injected clock)', () => {
  it('stays closed below the failure threshold; a success resets the count', () => {
    const c = clock();
    const b = new CircuitBreaker(3, 1000, c.now);
    b.recordFailure();
    b.recordFailure();
    assert.equal(b.currentState, 'closed');
    b.recordSuccess();
    b.recordFailure();
    b.recordFailure();
    assert.equal(b.currentState, 'closed');
    assert.equal(b.tryAcquire(), true);
  });

  it('opens after N consecutive failures and refuses requests until the cooldown ends', () => {
    const c = clock();
    const b = new CircuitBreaker(3, 1000, c.now);
    for (let i = 0; i < 3; i++) b.recordFailure();
    assert.equal(b.currentState, 'open');
    assert.equal(b.tryAcquire(), false);
    c.advance(999);
    assert.equal(b.tryAcquire(), false);
    assert.equal(b.currentState, 'open');
    c.advance(1);
    assert.equal(b.currentState, 'half-open');
  });

  it('half-open lets exactly one probe through; its success closes the breaker', () => {
    const c = clock();
    const b = new CircuitBreaker(1, 500, c.now);
    b.recordFailure();
    c.advance(500);
    assert.equal(b.tryAcquire(), true, 'the probe');
    assert.equal(b.tryAcquire(), false, 'a second caller while the probe is in flight');
    b.recordSuccess();
    assert.equal(b.currentState, 'closed');
    assert.equal(b.tryAcquire(), true);
    assert.equal(b.tryAcquire(), true);
  });

  it('a failed probe re-opens the breaker for a full cooldown', () => {
    const c = clock();
    const b = new CircuitBreaker(2, 500, c.now);
    b.recordFailure();
    b.recordFailure();
    c.advance(600);
    assert.equal(b.tryAcquire(), true);
    b.recordFailure();
    assert.equal(b.currentState, 'open');
    c.advance(499);
    assert.equal(b.tryAcquire(), false);
    c.advance(1);
    assert.equal(b.tryAcquire(), true);
  });

  it('a released probe (client went away) lets the next caller probe instead of wedging half-open', () => {
    const c = clock();
    const b = new CircuitBreaker(1, 100, c.now);
    b.recordFailure();
    c.advance(100);
    assert.equal(b.tryAcquire(), true);
    b.releaseProbe();
    assert.equal(b.currentState, 'half-open');
    assert.equal(b.tryAcquire(), true, 'next caller gets the probe');
    assert.equal(b.tryAcquire(), false);
  });

  it('headers of an answer close a half-open breaker at once; closed, they change nothing', () => {
    const c = clock();
    const b = new CircuitBreaker(2, 100, c.now);
    b.recordFailure();
    b.recordHeaders();
    b.recordFailure();
    assert.equal(b.currentState, 'open', 'headers alone do not reset the count of a closed breaker');
    c.advance(100);
    assert.equal(b.tryAcquire(), true, 'the probe');
    b.recordHeaders();
    assert.equal(b.currentState, 'closed');
    assert.equal(b.tryAcquire(), true, 'others are not held off while the probe streams');
  });

  it('releaseProbe on a closed breaker changes nothing', () => {
    const b = new CircuitBreaker(2, 100, clock().now);
    b.releaseProbe();
    b.recordFailure();
    assert.equal(b.currentState, 'closed');
    b.recordFailure();
    assert.equal(b.currentState, 'open');
  });
});
