/**
 * Wakes an agent's waiting long-poll or SSE stream when work is queued for it in this process.
 * Work queued by another controller process on the same database is found by the waiters'
 * periodic re-poll (MeshSettings.repollMs), so nothing depends on the wake-up arriving.
 */
export class Wakeups {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** Resolves on a wake-up for the agent, after `ms`, or when `signal` aborts. */
  wait(agentId: string, ms: number, signal?: AbortSignal): Promise<void> {
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

  wake(agentId: string): void {
    const set = this.waiters.get(agentId);
    if (set) for (const fn of [...set]) fn();
  }
}
