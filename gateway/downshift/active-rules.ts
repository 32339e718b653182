/** Finds and loads the downshift rule file the gateway runs with. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadDownshiftRulesFile } from '../../policies/downshift/load.js';
import type { DownshiftConfig } from './config.js';
import { DownshiftRules, type ModelLookup } from './rules.js';

/** Rule file used when `rulesFile` is not set: <data-dir>/downshift-rules.yaml, if present. */
export const DEFAULT_RULES_FILE = 'downshift-rules.yaml';

/**
 * The active rule set: the configured file (must exist and be valid), else the data dir's
 * downshift-rules.yaml when present, else none (downshift then only records task kinds).
 */
export function loadConfiguredRules(dataDir: string, config: DownshiftConfig | undefined, lookup: ModelLookup): DownshiftRules | undefined {
  const configured = config?.rulesFile;
  const file = configured ? resolve(dataDir, configured) : join(dataDir, DEFAULT_RULES_FILE);
  if (!configured && !existsSync(file)) return undefined;
  return new DownshiftRules(loadDownshiftRulesFile(file), lookup);
}
