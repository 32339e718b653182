/**
 * Loads a downshift rule file (YAML), validates it against the JSON Schema and then checks
 * what a schema cannot say (tier references, time zones, ranges). Every problem names the
 * key it is about, e.g. `rules[1].action.tier: no model is set for tier "economy" in tiers`.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import schema from '../schema/downshift.schema.json' with { type: 'json' };
import { describeAjvErrors } from '../../platform/ajv-errors.js';
import type { DownshiftRuleSet } from './types.js';

export class DownshiftRulesError extends Error {
  constructor(readonly source: string, readonly problems: string[]) {
    super(`${source}: invalid downshift rules\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'DownshiftRulesError';
  }
}

const ajv = new Ajv({ allErrors: true, strict: false });
const validateRuleSet = ajv.compile(schema);

/** "/rules/1/action" → "rules[1].action", matching how people read YAML. */
function readablePath(problem: string): string {
  return problem.replace(/^([^:]*)/, (key) => key.replace(/\.(\d+)(?=\.|$)/g, '[$1]'));
}

/** Validates already-parsed rule data; `source` names the file in error messages. */
export function parseDownshiftRules(data: unknown, source: string): DownshiftRuleSet {
  if (!validateRuleSet(data)) {
    throw new DownshiftRulesError(source, describeAjvErrors(validateRuleSet.errors, data).map(readablePath));
  }
  const set = data as unknown as DownshiftRuleSet;
  const problems: string[] = [];
  const seen = new Map<string, number>();
  set.rules.forEach((rule, i) => {
    const at = `rules[${i}]`;
    const earlier = seen.get(rule.id);
    if (earlier !== undefined) problems.push(`${at}.id: "${rule.id}" is already used by rules[${earlier}]`);
    else seen.set(rule.id, i);
    const { action, match } = rule;
    if (action.model !== undefined && action.tier !== undefined) {
      problems.push(`${at}.action: give either model or tier, not both`);
    }
    if (action.tier !== undefined && !set.tiers?.[action.tier]) {
      problems.push(`${at}.action.tier: no model is set for tier "${action.tier}" in the top-level tiers map`);
    }
    const pt = match.promptTokens;
    if (pt?.min !== undefined && pt.max !== undefined && pt.min > pt.max) {
      problems.push(`${at}.match.promptTokens: min (${pt.min}) is greater than max (${pt.max})`);
    }
    const tz = match.timeWindow?.timezone;
    if (tz !== undefined && !isTimeZone(tz)) {
      problems.push(`${at}.match.timeWindow.timezone: unknown time zone "${tz}" (use an IANA name such as "Europe/Berlin" or "UTC")`);
    }
    const tw = match.timeWindow;
    if (tw?.from !== undefined && tw.from === tw.to) {
      problems.push(`${at}.match.timeWindow: from and to are both ${tw.from}; the window would be empty`);
    }
  });
  if (problems.length > 0) throw new DownshiftRulesError(source, problems);
  return set;
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Reads and validates a YAML (or JSON) rule file. */
export function loadDownshiftRulesFile(file: string): DownshiftRuleSet {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DownshiftRulesError(file, [code === 'ENOENT' ? 'file not found' : `cannot read file (${code ?? (err as Error).message})`]);
  }
  let data: unknown;
  try {
    data = parseYaml(text);
  } catch (err) {
    throw new DownshiftRulesError(file, [`not valid YAML: ${(err as Error).message.split('\n')[0]}`]);
  }
  return parseDownshiftRules(data ?? {}, file);
}
