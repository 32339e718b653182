/**
 * Wakes an agent's waiting long-poll or SSE stream when work is queued for it. Work queued in
 * this process wakes its waiters directly; with a cross-process channel attached (PostgreSQL
 * LISTEN/NOTIFY, controller/mesh/pg-wakeups.ts) every wake is also announced to the other
 * controller processes on the same database, and theirs arrive here. Nothing depends on a
 * wake-up arriving: waiters re-check the queue every `repollMs`, or every `notifiedRepollMs`
 * while the channel is live (a lost notification then costs latency, never an item).
 *
 * A waiter takes a `ticket` before it reads the queue and passes it to `wait`: a wake that
 * arrives while its read is in flight (before it waits) ends the wait at once instead of
 * being missed until the next re-check.
 */
export interface WakeupChannel {
  /** True while announcements are being sent and received. */
  readonly live: boolean;
  publish(agentId: string): void;
}

export class Wakeups {
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Wake count per agent (bounded by the number of agents), compared against tickets. */
  private readonly wakes = new Map<string, number>();
  private channel: WakeupChannel | undefined;

  constructor(private readonly intervals: { repollMs: number; notifiedRepollMs: number } = { repollMs: 1_000, notifiedRepollMs: 1_000 }) {}

  attach(channel: WakeupChannel | undefined): void {
    this.channel = channel;
  }

  /** How long a waiter may wait before it re-checks the queue itself. */
  repollMs(): number {
    return this.channel?.live ? Math.max(this.intervals.repollMs, this.intervals.notifiedRepollMs) : this.intervals.repollMs;
  }

  /** Take before reading the queue; pass to `wait`. */
  ticket(agentId: string): number {
    return this.wakes.get(agentId) ?? 0;
  }

  /** Resolves on a wake-up for the agent (or one since `ticket`), after `ms`, or when `signal` aborts. */
  wait(agentId: string, ms: number, signal?: AbortSignal, ticket?: number): Promise<void> {
    if (ticket !== undefined && this.ticket(agentId) !== ticket) return Promise.resolve();
    return new Promise((resolve) => {
      let set = this.waiters.get(agentId);
      if (!set) this.waiters.set(agentId, (set = new Set()));
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        set!.delete(done);
        if (set!.size === 0) this.waiters.delete(agentId);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
      set.add(done);
    });
  }

  /** Work was queued for the agent: wake its waiters here and announce it to the other processes. */
  wake(agentId: string): void {
    this.wakeLocal(agentId);
    this.channel?.publish(agentId);
  }

  /** Every waiter of this process re-checks the queue (the cross-process channel went down or came back). */
  wakeEveryone(): void {
    for (const agentId of [...this.waiters.keys()]) this.wakeLocal(agentId);
  }

  /** Wakes this process's waiters only (an announcement from another process, the sweeper). */
  wakeLocal(agentId: string): void {
    this.wakes.set(agentId, (this.wakes.get(agentId) ?? 0) + 1);
    const set = this.waiters.get(agentId);
    if (set) for (const fn of [...set]) fn();
  }
}
