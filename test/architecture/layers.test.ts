/**
 * Imports point one way (docs/architecture.md, "Layers"): a contract both sides speak lives in a
 * neutral folder, and no library folder reaches up into the CLI. Every relative import of every
 * source file is resolved to the top-level folder it lands in and checked against the rules.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve('.');
const SOURCE_FOLDERS = ['audit', 'bin', 'controller', 'gateway', 'installers', 'mesh', 'models', 'platform', 'policies'];
const IMPORT = /(?:from\s+|import\s*\(\s*|import\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

interface Edge {
  file: string;
  target: string;
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'node_modules' || name === 'web') continue; // the console's browser code is built by Vite, not imported by Node
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (/\.tsx?$/.test(name)) out.push(path);
  }
  return out;
}

/** Every relative import, as repo-relative paths of the importer and the imported file. */
function importEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const folder of SOURCE_FOLDERS) {
    for (const file of sourceFiles(join(ROOT, folder))) {
      for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        edges.push({ file: relative(ROOT, file), target: relative(ROOT, resolve(dirname(file), m[1]!)) });
      }
    }
  }
  return edges;
}

const top = (path: string) => path.split('/')[0]!;

/** Which top-level folders a folder may import from, besides itself; `allowPaths` are documented exceptions. */
const RULES: Record<string, { forbidden: string[]; allowPaths?: string[] }> = {
  gateway: { forbidden: ['bin', 'controller'] },
  controller: { forbidden: ['bin', 'gateway'], allowPaths: ['gateway/guard/'] },
  mesh: { forbidden: ['bin', 'controller', 'gateway', 'installers'] },
  installers: { forbidden: ['bin', 'controller'] },
  models: { forbidden: ['bin', 'controller', 'gateway', 'installers', 'mesh'] },
  policies: { forbidden: ['bin', 'controller', 'gateway', 'installers', 'mesh'] },
  audit: { forbidden: ['bin', 'controller', 'gateway', 'installers', 'mesh', 'models', 'policies'] },
  platform: { forbidden: ['audit', 'bin', 'controller', 'gateway', 'installers', 'mesh', 'models', 'policies'] },
};

describe('import layers', () => {
  const edges = importEdges();

  it('finds the imports it checks (the scan is not empty)', () => {
    assert.ok(edges.length > 500, `only ${edges.length} imports found`);
    assert.ok(edges.some((e) => e.file.startsWith('controller/') && e.target.startsWith('gateway/guard/')), 'the documented exception is seen');
  });

  for (const [folder, rule] of Object.entries(RULES)) {
    it(`${folder}/ imports nothing from ${rule.forbidden.join(', ')}${rule.allowPaths ? ` (except ${rule.allowPaths.join(', ')})` : ''}`, () => {
      const wrong = edges
        .filter((e) => top(e.file) === folder && rule.forbidden.includes(top(e.target)))
        .filter((e) => !(rule.allowPaths ?? []).some((p) => e.target.startsWith(p)))
        .map((e) => `${e.file} → ${e.target}`);
      assert.deepEqual(wrong, []);
    });
  }
});
