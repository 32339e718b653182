/**
 * Cross-process wake-ups on PostgreSQL: every controller process of a database LISTENs on one
 * channel per schema, and announces the agents it queued work for with NOTIFY, so a long-poll
 * waiting in another process claims the item at once instead of finding it on its next re-check.
 * That is what lets waiters re-check rarely (`notifiedRepollMs`): re-checking every second was
 * one claim statement per waiting agent per second, most of a controller's and PostgreSQL's CPU
 * under 100 idle agents (decision 0074).
 *
 * One dedicated connection per process (LISTEN holds it), outside the pool; announcements are
 * sent on it too, coalesced per event-loop turn into one NOTIFY. An announcement is sent after
 * the work's commit (the callers wake after their write), and a NOTIFY is delivered only to
 * sessions listening when it commits — a claim that starts after it sees the work. While the
 * connection is down the channel is not live: waiters are woken to fall back to the short
 * re-check, and woken again once it is back (anything queued meanwhile is found then).
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Wakeups, WakeupChannel } from './wakeups.js';

/** NOTIFY payloads are limited to 8000 bytes; agent ids are short, joined by newlines. */
const MAX_PAYLOAD = 7_000;
const RECONNECT_MS = 1_000;

export class PgWakeupChannel implements WakeupChannel {
  live = false;
  private client: pg.Client | undefined;
  private readonly pending = new Set<string>();
  private flushing = false;
  private stopped = false;
  private readonly channel: string;

  constructor(
    private readonly newClient: () => pg.Client,
    scope: string,
    private readonly wakeups: Wakeups,
    private readonly log: { warn(obj: object, msg: string): void } = { warn: () => {} },
  ) {
    // One channel per schema: test and bench schemas share a database, and a channel name is an identifier (≤ 63 bytes).
    this.channel = `sb_mesh_work_${createHash('sha256').update(scope).digest('hex').slice(0, 24)}`;
  }

  async start(): Promise<void> {
    if (this.stopped || this.client) return;
    const client = this.newClient();
    this.client = client;
    client.on('error', (err) => this.down(client, err));
    client.on('end', () => this.down(client));
    client.on('notification', (msg) => {
      // Our own announcements come back too; their waiters were woken when they were sent.
      if (msg.channel !== this.channel || msg.processId === (client as unknown as { processID: number }).processID || !msg.payload) return;
      for (const agentId of msg.payload.split('\n')) this.wakeups.wakeLocal(agentId);
    });
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch (err) {
      this.down(client, err as Error);
      return;
    }
    if (this.stopped || this.client !== client) {
      await client.end().catch(() => {});
      return;
    }
    this.live = true;
    // Work queued while no channel was live is found by re-checking now.
    this.wakeups.wakeEveryone();
  }

  publish(agentId: string): void {
    if (!this.live) return;
    this.pending.add(agentId);
    if (!this.flushing) {
      this.flushing = true;
      setImmediate(() => void this.flush());
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.live = false;
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.size && this.client && this.live) {
        const ids: string[] = [];
        let size = 0;
        for (const id of this.pending) {
          if (ids.length && size + id.length + 1 > MAX_PAYLOAD) break;
          ids.push(id);
          size += id.length + 1;
        }
        for (const id of ids) this.pending.delete(id);
        await this.client.query('SELECT pg_notify($1, $2)', [this.channel, ids.join('\n')]);
      }
    } catch (err) {
      // The other processes find the work on their re-check; the connection's own error handler reconnects.
      this.log.warn({ err }, 'mesh wake-up NOTIFY failed');
    } finally {
      this.pending.clear();
      this.flushing = false;
    }
  }

  private down(client: pg.Client, err?: Error): void {
    // Once per connection (an error is followed by an end).
    if (client !== this.client) return;
    const wasLive = this.live;
    this.live = false;
    this.client = undefined;
    client.end().catch(() => {});
    if (this.stopped) return;
    if (wasLive) {
      this.log.warn({ err }, 'mesh wake-up channel lost; re-checking the queue every repollMs until it is back');
      // Waiters on the long re-check go back to the short one.
      this.wakeups.wakeEveryone();
    }
    setTimeout(() => void this.start(), RECONNECT_MS).unref();
  }
}
