/**
 * The exact cache: an in-memory LRU (lru-cache, bounded in bytes) in front of a persistent
 * SQLite table in gateway.db, both with a TTL. The persistent table has its own size and
 * entry caps; the least recently used entries are evicted first. Entries hold the *masked*
 * upstream response (stored before reidentify), so no clear-text value is ever written.
 */
import { LRUCache } from 'lru-cache';
import type { SseEvent } from '../context.js';
import { migrate, type GatewayDb } from '../../platform/sqlite.js';

export interface CachedResponse {
  kind: 'json' | 'sse';
  status: number;
  contentType: string;
  /** JSON body text (kind json). */
  body?: string;
  /** Events in upstream order, keep-alive comments left out (kind sse). */
  events?: SseEvent[];
  /** The completion id of the original response; each replay gets a fresh one in its place. */
  responseId?: string;
  /** Epoch ms. */
  createdAt: number;
  expiresAt: number;
  /** Approximate bytes (payload text length), used for the size caps. */
  size: number;
}

export interface ExactCacheOptions {
  ttlMs: number;
  /** Persistent store caps. */
  maxEntries: number;
  maxBytes: number;
  /** In-memory front. */
  memoryMaxBytes: number;
  /** Larger responses are not cached. */
  maxEntryBytes: number;
  now?: () => number;
}

export interface CacheStats {
  entries: number;
  bytes: number;
  memoryEntries: number;
  memoryBytes: number;
}

const MIGRATIONS = [
  `CREATE TABLE cache_entries (
     key TEXT PRIMARY KEY,
     tenant TEXT NOT NULL,
     kind TEXT NOT NULL CHECK (kind IN ('json', 'sse')),
     status INTEGER NOT NULL,
     content_type TEXT NOT NULL,
     response_id TEXT,
     payload TEXT NOT NULL,
     size INTEGER NOT NULL,
     created_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     last_used_at INTEGER NOT NULL,
     hits INTEGER NOT NULL DEFAULT 0
   );
   CREATE INDEX cache_entries_expires ON cache_entries (expires_at);
   CREATE INDEX cache_entries_last_used ON cache_entries (last_used_at);
   CREATE INDEX cache_entries_tenant ON cache_entries (tenant);`,
];

interface Row {
  kind: 'json' | 'sse';
  status: number;
  content_type: string;
  response_id: string | null;
  payload: string;
  size: number;
  created_at: number;
  expires_at: number;
}

/** Expired rows are swept at most this often (on writes), not on every request. */
const SWEEP_EVERY_MS = 60_000;

export class ExactCache {
  private readonly memory: LRUCache<string, CachedResponse>;
  private readonly now: () => number;
  private readonly stmt;
  private lastSweep = 0;

  constructor(private readonly db: GatewayDb, private readonly opts: ExactCacheOptions) {
    migrate(db, 'cache', MIGRATIONS);
    this.now = opts.now ?? Date.now;
    this.memory = new LRUCache<string, CachedResponse>({
      maxSize: Math.max(1, opts.memoryMaxBytes),
      sizeCalculation: (e) => Math.max(1, e.size),
    });
    this.stmt = {
      get: db.prepare<[string, number], Row>(
        'SELECT kind, status, content_type, response_id, payload, size, created_at, expires_at FROM cache_entries WHERE key = ? AND expires_at > ?',
      ),
      touch: db.prepare<[number, string]>('UPDATE cache_entries SET last_used_at = ?, hits = hits + 1 WHERE key = ?'),
      put: db.prepare(
        `INSERT OR REPLACE INTO cache_entries (key, tenant, kind, status, content_type, response_id, payload, size, created_at, expires_at, last_used_at)
         VALUES (@key, @tenant, @kind, @status, @contentType, @responseId, @payload, @size, @createdAt, @expiresAt, @createdAt)`,
      ),
      totals: db.prepare<[], { entries: number; bytes: number | null }>('SELECT COUNT(*) AS entries, SUM(size) AS bytes FROM cache_entries'),
      evictOldest: db.prepare<[number]>(
        'DELETE FROM cache_entries WHERE key IN (SELECT key FROM cache_entries ORDER BY last_used_at ASC LIMIT ?)',
      ),
      sweep: db.prepare<[number]>('DELETE FROM cache_entries WHERE expires_at <= ?'),
      clearTenant: db.prepare<[string]>('DELETE FROM cache_entries WHERE tenant = ?'),
      clearAll: db.prepare('DELETE FROM cache_entries'),
    };
  }

  /** A live entry for `key`, from memory or (then promoted to memory) from the store. */
  get(key: string): CachedResponse | undefined {
    const now = this.now();
    const hot = this.memory.get(key);
    if (hot) {
      if (hot.expiresAt > now) return hot;
      this.memory.delete(key);
    }
    const row = this.stmt.get.get(key, now);
    if (!row) return undefined;
    const entry = fromRow(row);
    this.stmt.touch.run(now, key);
    this.memory.set(key, entry);
    return entry;
  }

  /** Stores an entry unless it is larger than maxEntryBytes; returns whether it was stored. */
  put(key: string, tenant: string, entry: Omit<CachedResponse, 'createdAt' | 'expiresAt' | 'size'>): boolean {
    const payload = entry.kind === 'json' ? (entry.body ?? '') : JSON.stringify(entry.events ?? []);
    const size = payload.length;
    if (size > this.opts.maxEntryBytes) return false;
    const createdAt = this.now();
    const full: CachedResponse = { ...entry, createdAt, expiresAt: createdAt + this.opts.ttlMs, size };
    this.stmt.put.run({
      key,
      tenant,
      kind: full.kind,
      status: full.status,
      contentType: full.contentType,
      responseId: full.responseId ?? null,
      payload,
      size,
      createdAt,
      expiresAt: full.expiresAt,
    });
    this.memory.set(key, full);
    this.enforceCaps(createdAt);
    return true;
  }

  private enforceCaps(now: number): void {
    if (now - this.lastSweep >= SWEEP_EVERY_MS) {
      this.lastSweep = now;
      this.stmt.sweep.run(now);
    }
    let { entries, bytes } = this.totals();
    while (entries > this.opts.maxEntries || bytes > this.opts.maxBytes) {
      // Evict in batches of ~10% so a full cache does not pay one DELETE per insert.
      const batch = Math.max(1, Math.ceil(entries / 10), entries - this.opts.maxEntries);
      this.stmt.evictOldest.run(batch);
      ({ entries, bytes } = this.totals());
    }
  }

  private totals(): { entries: number; bytes: number } {
    const t = this.stmt.totals.get();
    return { entries: t?.entries ?? 0, bytes: t?.bytes ?? 0 };
  }

  /** Drops every entry of one tenant, or all entries; returns how many persistent rows went. */
  clear(tenant?: string): number {
    this.memory.clear();
    return (tenant === undefined ? this.stmt.clearAll.run() : this.stmt.clearTenant.run(tenant)).changes;
  }

  stats(): CacheStats {
    const { entries, bytes } = this.totals();
    return { entries, bytes, memoryEntries: this.memory.size, memoryBytes: this.memory.calculatedSize };
  }
}

function fromRow(row: Row): CachedResponse {
  const base = {
    kind: row.kind,
    status: row.status,
    contentType: row.content_type,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    size: row.size,
    ...(row.response_id ? { responseId: row.response_id } : {}),
  };
  return row.kind === 'json' ? { ...base, body: row.payload } : { ...base, events: JSON.parse(row.payload) as SseEvent[] };
}
