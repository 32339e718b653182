/**
 * The packed package (what `npm install` gives a user) holds the compiled CLI and every runtime
 * asset; and every data file in the source tree is listed as an asset, so a new schema, profile
 * or lexicon cannot be left out of the build unnoticed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { RUNTIME_ASSETS, SOURCE_ROOTS } from '../../scripts/runtime-assets.mjs';
import { REPO_ROOT } from './run-dist.js';

const run = promisify(execFile);

/** Non-code files under the folders that are compiled into dist/. */
function dataFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...dataFiles(p));
    else if (/\.(json|ya?ml|txt|csv|cedar)$/.test(name)) out.push(relative(REPO_ROOT, p));
  }
  return out;
}

function isListedAsset(file: string): boolean {
  return RUNTIME_ASSETS.some((a) => file.startsWith(`${a.dir}/`) && !file.slice(a.dir.length + 1).includes('/') && file.endsWith(a.ext));
}

describe('the packed package', () => {
  test('every data file in the source tree is a listed runtime asset', () => {
    const files = SOURCE_ROOTS.flatMap((r) => dataFiles(join(REPO_ROOT, r)));
    assert.ok(files.length >= 10, `found the data files: ${files.join(', ')}`);
    assert.deepEqual(files.filter((f) => !isListedAsset(f)), [], 'list these in scripts/runtime-assets.mjs (or move them out of the shipped folders)');
  });

  test('npm pack holds the CLI and every runtime asset, next to the compiled code', async () => {
    // --ignore-scripts: `prepare` would rebuild; npm test has just built dist/.
    const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: REPO_ROOT, maxBuffer: 32 * 1024 * 1024 });
    const packed = new Set((JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>)[0]!.files.map((f) => f.path));
    assert.ok(packed.has('dist/bin/switchboard.js'), 'the CLI entry point is packed');
    assert.ok(packed.has('package.json'));
    const expected = SOURCE_ROOTS.flatMap((r) => dataFiles(join(REPO_ROOT, r))).map((f) => `dist/${f}`);
    assert.deepEqual(expected.filter((f) => !packed.has(f)), [], 'runtime assets missing from the package');
    for (const asset of RUNTIME_ASSETS) {
      assert.ok([...packed].some((p) => p.startsWith(`dist/${asset.dir}/`) && p.endsWith(asset.ext)), `${asset.dir} (${asset.why}) is packed`);
    }
    assert.deepEqual([...packed].filter((p) => /^(test|bench|node_modules)\/|\.ts$/.test(p) && !p.endsWith('.d.ts')), [], 'no sources or tests in the package');
  });
});
