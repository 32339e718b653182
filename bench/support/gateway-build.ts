/**
 * Which gateway a bench times: its sources (run through tsx, the default) or the built package in
 * dist/ (`--dist`), which is what `switchboard` runs — tsx's transform adds work of its own (e.g.
 * a name-keeping wrapper around nested functions), so the two differ by a few percent. Every
 * gateway module a bench uses comes from here, from one build, so a run never mixes two module
 * instances (two detection memos, two keyword registries).
 */
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type GatewayBuild = 'sources' | 'dist';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** The module `gateway/<name>.js` of that build. */
function moduleUrl(build: GatewayBuild, name: string): string {
  return new URL(`../../${build === 'dist' ? 'dist/' : ''}gateway/${name}.js`, import.meta.url).href;
}

export interface GatewayModules {
  build: GatewayBuild;
  config: typeof import('../../gateway/config.js');
  server: typeof import('../../gateway/server.js');
  logger: typeof import('../../gateway/logger.js');
  privacyGuard: typeof import('../../gateway/stages/privacy-guard.js');
  detect: typeof import('../../gateway/guard/detect.js');
  textView: typeof import('../../gateway/guard/detectors/text-view.js');
  pseudonym: typeof import('../../gateway/guard/pseudonym.js');
  detectionMemo: typeof import('../../gateway/guard/detection-memo.js');
  maskRequest: typeof import('../../gateway/guard/mask-request.js');
  rawRequest: typeof import('../../gateway/wire/raw-request.js');
  previousTurns: typeof import('../../gateway/wire/previous-turns.js');
}

/**
 * Refuses a missing dist/ build and warns (stderr) when a source under gateway/ is newer than
 * it: the run would time old code. Nothing to check for the sources.
 */
function checkBuild(build: GatewayBuild): void {
  if (build !== 'dist') return;
  const marker = join(root, 'dist/gateway/server.js');
  if (!existsSync(marker)) throw new Error('no dist/ build: run `npm run build` first');
  const newer = newestSourceAfter(join(root, 'gateway'), statSync(marker).mtimeMs);
  if (newer) process.stderr.write(`warning: ${newer.slice(root.length)} is newer than dist/; run \`npm run build\` to time it\n`);
}

function load<T>(build: GatewayBuild, name: string): Promise<T> {
  return import(moduleUrl(build, name)) as Promise<T>;
}

/** The gateway modules the session and server benches use, from one build. */
export async function loadGateway(build: GatewayBuild): Promise<GatewayModules> {
  checkBuild(build);
  const [config, server, logger, privacyGuard, detect, textView, pseudonym, detectionMemo, maskRequest, rawRequest, previousTurns] = await Promise.all([
    load<GatewayModules['config']>(build, 'config'),
    load<GatewayModules['server']>(build, 'server'),
    load<GatewayModules['logger']>(build, 'logger'),
    load<GatewayModules['privacyGuard']>(build, 'stages/privacy-guard'),
    load<GatewayModules['detect']>(build, 'guard/detect'),
    load<GatewayModules['textView']>(build, 'guard/detectors/text-view'),
    load<GatewayModules['pseudonym']>(build, 'guard/pseudonym'),
    load<GatewayModules['detectionMemo']>(build, 'guard/detection-memo'),
    load<GatewayModules['maskRequest']>(build, 'guard/mask-request'),
    load<GatewayModules['rawRequest']>(build, 'wire/raw-request'),
    load<GatewayModules['previousTurns']>(build, 'wire/previous-turns'),
  ]);
  return { build, config, server, logger, privacyGuard, detect, textView, pseudonym, detectionMemo, maskRequest, rawRequest, previousTurns };
}

/** Only the detector modules (the cold-path bench), without the server's start-up imports. */
export async function loadDetection(build: GatewayBuild): Promise<Pick<GatewayModules, 'detect' | 'textView'>> {
  checkBuild(build);
  const [detect, textView] = await Promise.all([
    load<GatewayModules['detect']>(build, 'guard/detect'),
    load<GatewayModules['textView']>(build, 'guard/detectors/text-view'),
  ]);
  return { detect, textView };
}

/** A .ts file under `dir` modified after `time` (ms), if any. */
function newestSourceAfter(dir: string, time: number): string | undefined {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const st = statSync(p);
    if (st.isDirectory()) {
      const found = newestSourceAfter(p, time);
      if (found) return found;
    } else if (name.endsWith('.ts') && st.mtimeMs > time) return p;
  }
  return undefined;
}
