/**
 * One wording for JSON Schema (ajv) errors everywhere a user's input is validated — config file,
 * profiles, directory imports, guard policy, downshift rules — naming the key, the rule and the value.
 */
import type { ErrorObject } from 'ajv';

/** "gateway.port: must be integer (got "abc")" */
export function describeAjvErrors(errors: ErrorObject[] | null | undefined, data: unknown): string[] {
  return (errors ?? []).map((e) => {
    const key = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')).join('.') || '(top level)';
    if (e.keyword === 'additionalProperties') {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      return `${key === '(top level)' ? '' : `${key}.`}${extra}: unknown key`;
    }
    if (e.keyword === 'enum') {
      const allowed = (e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ');
      return `${key}: must be one of ${allowed} (got ${JSON.stringify(valueAt(data, e.instancePath))})`;
    }
    return `${key}: ${e.message ?? 'is invalid'} (got ${JSON.stringify(valueAt(data, e.instancePath))})`;
  });
}

function valueAt(data: unknown, pointer: string): unknown {
  let cur: unknown = data;
  for (const part of pointer.split('/').slice(1)) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return cur;
}
