/**
 * One `switchboard up` per data dir. A second one on the same dir would open the same SQLite
 * databases and re-enrol the gateway against its own controller port — and, when its gateway
 * port then turned out to be taken, leave the running one's enrolment pointing at a dead
 * controller. The lock is a file holding the owner's pid; a lock whose process is gone is stale.
 */
import { openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from './cli-support.js';

export const UP_LOCK_FILE = 'up.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock or says who holds it; returns the release function. */
export function lockDataDir(dataDir: string, what = 'switchboard up'): () => void {
  const file = join(dataDir, UP_LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        rmSync(file, { force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && alive(pid)) {
        throw new CliError(`${what} is already running on ${dataDir} (pid ${pid}): stop it first (Ctrl-C), or pass another --data-dir`);
      }
      rmSync(file, { force: true }); // stale: its process is gone
    }
  }
  throw new CliError(`cannot lock ${dataDir} (${UP_LOCK_FILE} keeps reappearing): is another switchboard up starting right now?`);
}
