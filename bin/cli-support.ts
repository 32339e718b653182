/** Small pieces every command shares: the --data-dir option, config loading, clean errors. */
import type { Command } from 'commander';
import { ConfigError, loadConfigFile, type SwitchboardConfig } from './config.js';
import { defaultDataDir, openDataDir, type DataDir } from './data-dir.js';
import { resolve } from 'node:path';
import { ControllerCaError, trustControllerCaFile } from '../gateway/controller-tls.js';

/** An error the user caused: printed as one clear line, exit code 2 by default. */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 2) {
    super(message);
    this.name = 'CliError';
  }
}

export function addDataDirOption(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'where config, keys, databases and logs live', defaultDataDir())
    .option('--config <file>', 'config file (default: <data-dir>/switchboard.yaml)');
}

export interface CommonOptions {
  dataDir: string;
  config?: string;
  /** `--controller-ca` on commands that talk to the controller. */
  controllerCa?: string;
}

/** `--controller-ca FILE`: trust a private CA for the controller's certificate (also `controller.caFile`). */
export function addControllerCaOption(cmd: Command): Command {
  return cmd.option('--controller-ca <file>', "PEM file of the private CA that signed the controller's certificate (default: controller.caFile from the config)");
}

export function loadContext(opts: CommonOptions): { dataDir: DataDir; config: SwitchboardConfig; configFile: string } {
  const dataDir = openDataDir(opts.dataDir);
  const configFile = opts.config ?? dataDir.path('switchboard.yaml');
  try {
    const config = loadConfigFile(configFile);
    // The flag is relative to the working directory; the config's caFile to the data dir.
    if (opts.controllerCa) trustControllerCaFile(resolve(opts.controllerCa));
    else if (config.controller?.caFile) trustControllerCaFile(resolve(dataDir.root, config.controller.caFile));
    return { dataDir, config, configFile };
  } catch (err) {
    if (err instanceof ConfigError || err instanceof ControllerCaError) throw new CliError(err.message);
    throw err;
  }
}

export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new CliError(`--port must be an integer 0-65535 (got "${value}")`);
  return n;
}

export function parseUrl(flag: string, value: string): string {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('scheme');
    return value.replace(/\/+$/, '');
  } catch {
    throw new CliError(`${flag} must be an http(s) URL (got "${value}")`);
  }
}

/** --from/--to style flags: a date (2026-11-01, UTC midnight) or an ISO date-time, as ISO-8601. */
export function isoTimeFlag(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (!Number.isFinite(t)) throw new CliError(`${flag} must be a date (2026-11-01) or an ISO date-time (got "${value}")`);
  return new Date(t).toISOString();
}
