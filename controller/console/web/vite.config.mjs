// Vite build of the owners' console (run by scripts/build.mjs). Output goes next to the compiled
// controller (dist/controller/console/public), which serves it at /console/.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { Ajv } from 'ajv';
import standaloneCode from 'ajv/dist/standalone/index.js';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const SCHEMA = here('../../../policies/schema/downshift.schema.json');
const VALIDATOR_ID = 'virtual:downshift-validator';

/**
 * The rules editor validates against the same JSON Schema as the server. Ajv compiles it here, at
 * build time, into a standalone module: the browser then needs no `eval` (the CSP forbids it).
 */
function downshiftValidator() {
  return {
    name: 'switchboard-downshift-validator',
    resolveId: (id) => (id === VALIDATOR_ID ? `\0${VALIDATOR_ID}` : undefined),
    load(id) {
      if (id !== `\0${VALIDATOR_ID}`) return undefined;
      this.addWatchFile(SCHEMA);
      const ajv = new Ajv({ allErrors: true, strict: false, code: { source: true, esm: true } });
      const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA, 'utf8')));
      return standaloneCode(ajv, validate);
    },
  };
}

export default defineConfig({
  root: here('.'),
  base: '/console/',
  plugins: [downshiftValidator()],
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: here('../../../dist/controller/console/public'),
    emptyOutDir: true,
    // No inline scripts or styles: the console's CSP allows 'self' only.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    chunkSizeWarningLimit: 600,
  },
  logLevel: 'warn',
});
