#!/usr/bin/env node
// `npm run build`: a clean dist/ (no stale file can hide a packaging mistake), the TypeScript
// compile, then every runtime asset copied next to the compiled code that reads it.
import { cpSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { RUNTIME_ASSETS } from './runtime-assets.mjs';

const root = new URL('..', import.meta.url).pathname;
process.chdir(root);
rmSync('dist', { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const compiled = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);

let copied = 0;
for (const asset of RUNTIME_ASSETS.filter((a) => !a.built)) {
  const files = readdirSync(asset.dir).filter((f) => f.endsWith(asset.ext));
  if (files.length === 0) {
    console.error(`build: no ${asset.ext} files in ${asset.dir} (listed in scripts/runtime-assets.mjs)`);
    process.exit(1);
  }
  mkdirSync(join('dist', asset.dir), { recursive: true });
  for (const f of files) {
    cpSync(join(asset.dir, f), join('dist', asset.dir, f));
    copied++;
  }
}

// The web console: Vite bundles controller/console/web (Preact, Pico CSS, Chart.js) into
// dist/controller/console/public, which the controller serves at /console/.
const { build: vite } = await import('vite');
await vite({ configFile: join(root, 'controller/console/web/vite.config.mjs') });
for (const asset of RUNTIME_ASSETS.filter((a) => a.built)) {
  const out = join('dist', asset.dir);
  let files = [];
  try {
    files = readdirSync(out).filter((f) => f.endsWith(asset.ext));
  } catch {
    // reported below
  }
  if (files.length === 0) {
    console.error(`build: ${asset.built} produced no ${asset.ext} files in ${out} (listed in scripts/runtime-assets.mjs)`);
    process.exit(1);
  }
}
console.log(`build: compiled to dist/, copied ${copied} runtime assets, built the web console`);
