/**
 * Circuit breaker per upstream: after `failureThreshold` consecutive failures it opens for
 * `cooldownMs`; then one probe request is let through (half-open). Success closes it.
 */
export type BreakerState = 'closed' | 'open' | 'half-open';

export class CircuitBreaker {
  private failures = 0;
  private openedAt = 0;
  private state: BreakerState = 'closed';
  private probeInFlight = false;

  constructor(
    private readonly failureThreshold: number,
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get currentState(): BreakerState {
    if (this.state === 'open' && this.now() - this.openedAt >= this.cooldownMs) return 'half-open';
    return this.state;
  }

  /** Whether a request may go to this upstream now. Claims the single probe when half-open. */
  tryAcquire(): boolean {
    if (this.state === 'closed') return true;
    if (this.state === 'open') {
      if (this.now() - this.openedAt < this.cooldownMs) return false;
      this.state = 'half-open';
    }
    if (this.probeInFlight) return false;
    this.probeInFlight = true;
    return true;
  }

  recordSuccess(): void {
    this.failures = 0;
    this.probeInFlight = false;
    this.state = 'closed';
  }

  /**
   * An answer's headers arrived. A half-open probe has its verdict — the upstream is up — so the
   * breaker closes now rather than after a stream that may run for minutes, which would hold
   * every other caller off. Closed, nothing changes: the verdict waits for the body's end.
   */
  recordHeaders(): void {
    if (this.state !== 'closed') this.recordSuccess();
  }

  /** The request holding the probe ended without a verdict on the upstream (the client went away). */
  releaseProbe(): void {
    this.probeInFlight = false;
  }

  recordFailure(): void {
    this.probeInFlight = false;
    this.failures += 1;
    if (this.state === 'half-open' || this.failures >= this.failureThreshold) {
      this.state = 'open';
      this.openedAt = this.now();
    }
  }
}
