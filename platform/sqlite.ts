/**
 * The gateway's embedded database (SQLite via better-sqlite3, WAL mode) at <data-dir>/gateway.db.
 * Each module (usage, cache, vault, audit spool) owns its tables and registers its migrations
 * under its own name, so modules evolve independently in one file.
 */
import Database from 'better-sqlite3';

export type GatewayDb = Database.Database;

export function openGatewayDb(file: string): GatewayDb {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (module TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (module, version))');
  return db;
}

/**
 * Applies `steps[i]` (SQL) for every version not yet applied for `module`, in one transaction each.
 * Append new steps; never edit an applied one.
 */
export function migrate(db: GatewayDb, module: string, steps: readonly string[]): void {
  const applied = new Set(
    db.prepare('SELECT version FROM schema_migrations WHERE module = ?').all(module).map((r) => (r as { version: number }).version),
  );
  steps.forEach((sql, i) => {
    const version = i + 1;
    if (applied.has(version)) return;
    db.transaction(() => {
      db.exec(sql);
      db.prepare('INSERT INTO schema_migrations (module, version) VALUES (?, ?)').run(module, version);
    })();
  });
}
