/**
 * The role profile and signed-bundle payload schemas (policies/schema/*.schema.json), compiled once
 * with ajv. Shared by the controller (profiles from YAML and the API) and the gateway (bundles on
 * arrival), so both validate with the same rules.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { describeAjvErrors } from '../platform/ajv-errors.js';
import type { RoleProfile } from './profile.js';

/** Next to this module in the source tree and in dist/ (scripts/runtime-assets.mjs copies it). */
export const POLICY_SCHEMA_DIR = fileURLToPath(new URL('./schema', import.meta.url));

interface PolicyValidators {
  profile: ValidateFunction;
  /** policies/schema/bundle.schema.json: `{format, role, profile}`. */
  bundle: ValidateFunction;
  budgets?: ValidateFunction;
}

let validator: PolicyValidators | undefined;

/** Compiles the profile and bundle schemas once, with every section schema found in policies/schema/. */
export function profileValidator(): PolicyValidators {
  if (validator) return validator;
  // Section schemas are written by other modules against draft-07 or 2020-12; compile all with one engine.
  const ajv = new Ajv2020({ allErrors: true, strict: false, validateSchema: false });
  let budgetsId: string | undefined;
  for (const file of readdirSync(POLICY_SCHEMA_DIR).filter((f) => f.endsWith('.schema.json')).sort()) {
    const schema = JSON.parse(readFileSync(join(POLICY_SCHEMA_DIR, file), 'utf8')) as { $id?: string };
    if (file === 'profile.schema.json' || file === 'bundle.schema.json') continue;
    ajv.addSchema(schema);
    if (file === 'budgets.schema.json') budgetsId = schema.$id;
  }
  const profileSchema = JSON.parse(readFileSync(join(POLICY_SCHEMA_DIR, 'profile.schema.json'), 'utf8')) as object;
  const profile = ajv.compile(profileSchema);
  const bundleSchema = JSON.parse(readFileSync(join(POLICY_SCHEMA_DIR, 'bundle.schema.json'), 'utf8')) as object;
  validator = {
    profile,
    bundle: ajv.compile(bundleSchema),
    ...(budgetsId ? { budgets: ajv.getSchema(budgetsId) } : {}),
  };
  return validator;
}

/** Validates one parsed profile; returns the problems (empty when valid). */
export function validateProfile(raw: unknown): string[] {
  const v = profileValidator();
  if (!v.profile(raw)) return describeAjvErrors(v.profile.errors, raw);
  const budgets = (raw as RoleProfile).budgets;
  if (budgets !== undefined && v.budgets && !v.budgets(budgets)) {
    return describeAjvErrors(v.budgets.errors, budgets).map((p) => `budgets.${p}`);
  }
  return [];
}

/** Validates a bundle payload `{format, role, profile}` against policies/schema/bundle.schema.json. */
export function validateBundlePayload(raw: unknown): string[] {
  const v = profileValidator();
  if (!v.bundle(raw)) return describeAjvErrors(v.bundle.errors, raw);
  const b = raw as { role: string; profile: RoleProfile };
  if (b.profile.role !== b.role) return [`profile.role: "${b.profile.role}" differs from bundle role "${b.role}"`];
  return validateProfile(b.profile).map((p) => `profile.${p}`);
}
