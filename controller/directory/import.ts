/**
 * Directory import from YAML or CSV (format in docs/controller.md). Everything is validated
 * before anything is written: each problem names the row (or list index), the node id and the
 * key. References (parent, manager, roles) may point at nodes in the same file or already stored.
 */
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { parse as parseCsv } from 'csv-parse/sync';
import { describeAjvErrors } from '../../platform/ajv-errors.js';
import type { DirectoryRepository } from './repository.js';
import { DIRECTORY_NODE_KINDS, type AttributeValue, type DirectoryNode, type DirectoryNodeKind } from './types.js';

export const NODE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,127}$';

/** One node as written in an import file or POSTed to the API. */
export const directoryNodeInputSchema = {
  $id: 'DirectoryNodeInput',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'kind', 'name'],
  properties: {
    id: { type: 'string', pattern: NODE_ID_PATTERN },
    kind: { enum: DIRECTORY_NODE_KINDS },
    name: { type: 'string', minLength: 1, maxLength: 200 },
    parent: { type: 'string', pattern: NODE_ID_PATTERN },
    email: { type: 'string', format: 'email', maxLength: 320 },
    manager: { type: 'string', pattern: NODE_ID_PATTERN },
    roles: { type: 'array', maxItems: 50, uniqueItems: true, items: { type: 'string', pattern: NODE_ID_PATTERN } },
    attributes: {
      type: 'object',
      maxProperties: 50,
      propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]{0,63}$' },
      additionalProperties: { type: ['string', 'number', 'boolean'] },
    },
  },
} as const;

export interface DirectoryNodeInput {
  id: string;
  kind: DirectoryNodeKind;
  name: string;
  parent?: string;
  email?: string;
  manager?: string;
  roles?: string[];
  attributes?: Record<string, AttributeValue>;
}

export class DirectoryImportError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: ${problems.length} problem(s)\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'DirectoryImportError';
  }
}

/** Which kinds a node of each kind may sit inside. */
const ALLOWED_PARENTS: Record<DirectoryNodeKind, readonly DirectoryNodeKind[]> = {
  org: [],
  department: ['org', 'department'],
  team: ['department', 'team', 'org'],
  person: ['team', 'department', 'org'],
  role: [],
};

const ajv = new Ajv({ allErrors: true, strict: false });
// ajv-formats' email check, without pulling the whole formats set into this module's contract.
ajv.addFormat('email', /^[^\s@]+@[^\s@]+\.[^\s@]+$/);
const validateNode = ajv.compile(directoryNodeInputSchema);

const CSV_COLUMNS = new Set(['id', 'kind', 'name', 'parent', 'email', 'manager', 'roles']);

/** Parses a file's text into raw records, each with a label for error messages. */
export function parseDirectoryFile(text: string, format: 'yaml' | 'csv', source: string): Array<{ label: string; record: unknown }> {
  if (format === 'yaml') {
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (err) {
      throw new DirectoryImportError(source, [`not valid YAML: ${(err as Error).message}`]);
    }
    const nodes = (doc as { nodes?: unknown } | null)?.nodes;
    if (!Array.isArray(nodes)) throw new DirectoryImportError(source, ['top level must be a mapping with a "nodes:" list']);
    const extra = Object.keys(doc as object).filter((k) => k !== 'nodes');
    if (extra.length) throw new DirectoryImportError(source, extra.map((k) => `${k}: unknown top-level key (only "nodes" is allowed)`));
    return nodes.map((record, i) => ({ label: `nodes[${i}]`, record }));
  }
  let rows: Record<string, string>[];
  try {
    rows = parseCsv(text, { columns: true, skip_empty_lines: true, trim: true, bom: true }) as Record<string, string>[];
  } catch (err) {
    throw new DirectoryImportError(source, [`not valid CSV: ${(err as Error).message}`]);
  }
  const header = rows[0] ? Object.keys(rows[0]) : [];
  const unknown = header.filter((c) => !CSV_COLUMNS.has(c) && !c.startsWith('attr.'));
  if (unknown.length) {
    throw new DirectoryImportError(source, unknown.map((c) => `column "${c}": unknown (use id, kind, name, parent, email, manager, roles, attr.<name>)`));
  }
  // Row 1 is the header, so data row i is line i + 2.
  return rows.map((row, i) => ({ label: `row ${i + 2}`, record: csvRecord(row) }));
}

function csvRecord(row: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const attributes: Record<string, AttributeValue> = {};
  for (const [col, value] of Object.entries(row)) {
    if (value === '') continue;
    if (col.startsWith('attr.')) attributes[col.slice(5)] = csvValue(value);
    else if (col === 'roles') out.roles = value.split(/[;|]/).map((r) => r.trim()).filter(Boolean);
    else out[col] = value;
  }
  if (Object.keys(attributes).length) out.attributes = attributes;
  return out;
}

function csvValue(v: string): AttributeValue {
  if (/^-?\d{1,15}$/.test(v)) return Number(v);
  if (v === 'true' || v === 'false') return v === 'true';
  return v;
}

/**
 * Validates records (shape, then graph rules) against the file itself and the stored directory.
 * Returns nodes ready for `DirectoryRepository.upsert`, or throws with every problem found.
 */
export async function validateDirectoryNodes(
  records: ReadonlyArray<{ label: string; record: unknown }>,
  repo: DirectoryRepository,
  source: string,
): Promise<DirectoryNode[]> {
  const problems: string[] = [];
  const inputs: Array<{ label: string; node: DirectoryNodeInput }> = [];
  const seen = new Map<string, string>();
  for (const { label, record } of records) {
    const id = (record as { id?: unknown } | null)?.id;
    const where = typeof id === 'string' ? `${label} (id ${id})` : label;
    if (!validateNode(record)) {
      problems.push(...describeAjvErrors(validateNode.errors, record).map((p) => `${where}: ${p}`));
      continue;
    }
    const node = record as DirectoryNodeInput;
    const earlier = seen.get(node.id);
    if (earlier) problems.push(`${where}: id: duplicate of ${earlier}`);
    seen.set(node.id, label);
    inputs.push({ label: where, node });
  }

  const inFile = new Map(inputs.map(({ node }) => [node.id, node.kind]));
  const referenced = [...new Set(inputs.flatMap(({ node }) => [node.parent, node.manager, ...(node.roles ?? [])]).filter((x): x is string => !!x && !inFile.has(x)))];
  const stored = await repo.existing(referenced);
  const kindOf = (id: string) => inFile.get(id) ?? stored.get(id);

  for (const { label, node } of inputs) {
    if (node.parent !== undefined) {
      const parentKind = kindOf(node.parent);
      if (!parentKind) problems.push(`${label}: parent: unknown node "${node.parent}"`);
      else if (!ALLOWED_PARENTS[node.kind].includes(parentKind)) {
        problems.push(`${label}: parent: a ${node.kind} cannot sit inside a ${parentKind} ("${node.parent}")`);
      }
    }
    if (node.kind !== 'person' && (node.manager !== undefined || node.roles !== undefined)) {
      problems.push(`${label}: ${node.manager !== undefined ? 'manager' : 'roles'}: only a person has a manager or roles`);
    }
    if (node.manager !== undefined) {
      const k = kindOf(node.manager);
      if (node.manager === node.id) problems.push(`${label}: manager: a person cannot manage themselves`);
      else if (!k) problems.push(`${label}: manager: unknown node "${node.manager}"`);
      else if (k !== 'person') problems.push(`${label}: manager: "${node.manager}" is a ${k}, not a person`);
    }
    for (const role of node.roles ?? []) {
      const k = kindOf(role);
      if (!k) problems.push(`${label}: roles: unknown role "${role}" (add a node with kind: role)`);
      else if (k !== 'role') problems.push(`${label}: roles: "${role}" is a ${k}, not a role`);
    }
  }
  problems.push(...managerCycles(inputs.map((i) => i.node)));
  if (problems.length) throw new DirectoryImportError(source, problems);

  return inputs.map(({ node }) => ({
    id: node.id,
    kind: node.kind,
    name: node.name,
    parentId: node.parent ?? null,
    email: node.email ?? null,
    attributes: node.attributes ?? {},
    managerId: node.manager ?? null,
    roles: [...(node.roles ?? [])].sort(),
  }));
}

/** Cycles within the file's manager edges (a cycle through stored nodes is cut by the chain walk). */
function managerCycles(nodes: readonly DirectoryNodeInput[]): string[] {
  const manager = new Map(nodes.filter((n) => n.manager).map((n) => [n.id, n.manager!]));
  const reported = new Set<string>();
  const out: string[] = [];
  for (const start of manager.keys()) {
    const path: string[] = [start];
    let cur = manager.get(start);
    while (cur !== undefined && !path.includes(cur)) {
      path.push(cur);
      cur = manager.get(cur);
    }
    if (cur !== undefined && cur === start && !reported.has(start)) {
      path.forEach((p) => reported.add(p));
      out.push(`manager: cycle ${[...path, start].join(' → ')}`);
    }
  }
  return out;
}

export async function importDirectory(
  text: string,
  format: 'yaml' | 'csv',
  source: string,
  repo: DirectoryRepository,
): Promise<{ created: number; updated: number }> {
  const nodes = await validateDirectoryNodes(parseDirectoryFile(text, format, source), repo, source);
  return repo.upsert(nodes);
}
