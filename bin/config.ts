/**
 * switchboard.yaml: one YAML file, validated with JSON Schema (ajv). Errors name the key and
 * the expected value. Precedence: built-in defaults < file < environment < command-line flags.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { describeAjvErrors } from '../platform/ajv-errors.js';
import { parse as parseYaml } from 'yaml';
import { gatewayConfigSchema, type GatewayConfig, defaultGatewayConfig, mergeGatewayConfig } from '../gateway/config.js';
import { softLimitProblems, type BudgetPolicy } from '../policies/budgets.js';
import { controllerLinkConfigSchema, resolveControllerLink, type ControllerLinkConfig, type ControllerLinkInput } from '../gateway/bundles/controller-link-config.js';

export interface SwitchboardConfig {
  gateway: GatewayConfig;
  /** How the gateway reaches its org controller (bundles, audit); absent = standalone. */
  controller?: ControllerLinkConfig;
}

const configSchema = {
  $id: 'switchboard-config',
  type: 'object',
  additionalProperties: false,
  properties: {
    gateway: gatewayConfigSchema,
    controller: controllerLinkConfigSchema,
  },
} as const;

const ajv = new Ajv({ allErrors: true, useDefaults: false, strict: false });
const validateConfig = ajv.compile(configSchema);

export class ConfigError extends Error {
  constructor(readonly file: string, readonly problems: string[]) {
    super(`${file}: invalid configuration\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}


/** Parses and validates a config file; a missing file gives the defaults. */
export function loadConfigFile(file: string): SwitchboardConfig {
  let raw: unknown = {};
  if (existsSync(file)) {
    const text = readFileSync(file, 'utf8');
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      throw new ConfigError(file, [`not valid YAML: ${(err as Error).message}`]);
    }
  }
  if (!validateConfig(raw)) throw new ConfigError(file, describeAjvErrors(validateConfig.errors, raw));
  const budgetProblems = softLimitProblems((raw as { gateway?: { cost?: { budgets?: BudgetPolicy } } }).gateway?.cost?.budgets, 'gateway.cost.budgets');
  if (budgetProblems.length > 0) throw new ConfigError(file, budgetProblems);
  const parsed = raw as Partial<{ gateway: Partial<GatewayConfig>; controller: ControllerLinkInput }>;
  return {
    gateway: mergeGatewayConfig(defaultGatewayConfig(), parsed.gateway ?? {}),
    ...(parsed.controller ? { controller: resolveControllerLink(parsed.controller) } : {}),
  };
}
