/**
 * Everything a run writes (config, keys, databases, logs) lives under one data directory,
 * so tests and benchmarks can run isolated with --data-dir.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import envPaths from 'env-paths';

export function defaultDataDir(): string {
  return process.env.SWITCHBOARD_DATA_DIR ?? envPaths('switchboard', { suffix: '' }).data;
}

export interface DataDir {
  readonly root: string;
  /** Path of a file or folder inside the data dir. */
  path(...parts: string[]): string;
}

export function openDataDir(root: string = defaultDataDir()): DataDir {
  mkdirSync(root, { recursive: true, mode: 0o700 });
  return { root, path: (...parts: string[]) => join(root, ...parts) };
}

