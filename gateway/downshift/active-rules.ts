/**
 * Which downshift rules the gateway runs with. Precedence, first that applies:
 *   1. a local rule file — `gateway.downshift.rulesFile`, else `<data-dir>/downshift-rules.yaml`
 *      when present — overrides everything, for this one machine;
 *   2. the rules in the role's policy, i.e. the signed bundle's profile (`downshift` section);
 *   3. none: downshift only records the task kind (a standalone gateway without a rule file).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { DownshiftRulesError, loadDownshiftRulesFile, parseDownshiftRules } from '../../policies/downshift/load.js';
import type { EffectivePolicy } from '../../policies/types.js';
import type { DownshiftConfig } from './config.js';
import { DownshiftRules, type ModelLookup } from '../../policies/downshift/rules.js';

/** Rule file used when `rulesFile` is not set: <data-dir>/downshift-rules.yaml, if present. */
export const DEFAULT_RULES_FILE = 'downshift-rules.yaml';

export type DownshiftRulesSource = 'local-file' | 'bundle' | 'none';

/** The local override file that applies (configured, or the data dir's default when present). */
export function localRulesFile(dataDir: string, config: DownshiftConfig | undefined): string | undefined {
  const configured = config?.rulesFile;
  const file = configured ? resolve(dataDir, configured) : join(dataDir, DEFAULT_RULES_FILE);
  return configured || existsSync(file) ? file : undefined;
}

/**
 * The local override rule set: the configured file (must exist and be valid), else the data
 * dir's downshift-rules.yaml when present, else none.
 */
export function loadConfiguredRules(dataDir: string, config: DownshiftConfig | undefined, lookup: ModelLookup): DownshiftRules | undefined {
  const file = localRulesFile(dataDir, config);
  return file ? new DownshiftRules(loadDownshiftRulesFile(file), lookup) : undefined;
}

/**
 * Compiles the downshift section of a policy once per policy object (one per bundle version),
 * so a new bundle's rules apply from its first request. A section that fails the reference
 * checks (the schema was checked when the bundle was verified) is logged once and ignored:
 * downshift saves money, it never guards data, so no rules is the safe reading.
 */
export function policyDownshiftRules(lookup: ModelLookup, log: Logger): (policy: EffectivePolicy) => DownshiftRules | undefined {
  const compiled = new WeakMap<object, DownshiftRules | null>();
  return (policy) => {
    const section = policy['downshift'];
    if (section === undefined || section === null || typeof section !== 'object') return undefined;
    let rules = compiled.get(section);
    if (rules === undefined) {
      try {
        rules = new DownshiftRules(parseDownshiftRules(section, `policy ${policy.role}@${policy.version} downshift`), lookup);
      } catch (err) {
        if (!(err instanceof DownshiftRulesError)) throw err;
        log.error({ role: policy.role, version: policy.version, problems: err.problems }, 'downshift rules of the policy bundle are invalid; downshift is off for this bundle');
        rules = null;
      }
      compiled.set(section, rules);
    }
    return rules ?? undefined;
  };
}
