// Every non-code file the CLI reads at run time (entries with `built` are produced by the build
// rather than copied from the source tree). They are looked up next to the compiled code
// (dist/<same path>), so the build copies each of them there; test/dist checks that the packed
// package holds them all and that no asset in the source tree is missing from this list.
export const RUNTIME_ASSETS = [
  { dir: 'policies/schema', ext: '.json', why: 'bundle, profile and section JSON Schemas (controller profile catalog, guard, budgets, downshift)' },
  { dir: 'policies/profiles', ext: '.yaml', why: 'shipped role profiles (engineering, finance, marketing)' },
  { dir: 'policies/downshift', ext: '.yaml', why: 'the default downshift rules (`switchboard rules check`)' },
  { dir: 'gateway/guard/data', ext: '.json', why: 'Privacy Guard lexicons' },
  { dir: 'models/snapshot', ext: '.json', why: 'shipped model list snapshot (prices, context, tiers)' },
  { dir: 'policies/recipes', ext: '.yaml', why: 'shipped Goose recipes' },
  { dir: 'policies/recipes', ext: '.json', why: 'recipe JSON Schema' },
  { dir: 'installers/org', ext: '.yaml', why: 'sample org directory' },
  // Built, not copied: Vite bundles controller/console/web into these (scripts/build.mjs).
  { dir: 'controller/console/public', ext: '.html', why: 'the web console page (served at /console/)', built: 'vite' },
  { dir: 'controller/console/public/assets', ext: '.js', why: 'the web console script bundle', built: 'vite' },
  { dir: 'controller/console/public/assets', ext: '.css', why: 'the web console styles (Pico CSS and its own)', built: 'vite' },
];

/** Folders compiled into dist/ (tsconfig.build.json "include"); assets outside them are not shipped. */
export const SOURCE_ROOTS = ['bin', 'gateway', 'models', 'policies', 'controller', 'installers'];
