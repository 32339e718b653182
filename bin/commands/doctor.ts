/**
 * `switchboard doctor [--json]`: checks that the pieces a user relies on are in place — Node,
 * data dir, gateway and controller reachable, the signed bundle (signature, age), the upstream
 * (reachable, key), Goose's config (provider → gateway, allowlist), Ollama and the fallback model —
 * and warns about Goose's known local bypasses. Every failure says how to fix it. Exit code 1
 * when any check fails (warnings alone exit 0).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { homedir } from 'node:os';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { addDataDirOption, loadContext, parseUrl, type CommonOptions } from '../cli-support.js';
import { applyGatewayEnv } from '../gateway-env.js';
import type { GatewayConfig } from '../../gateway/config.js';
import { LOCAL_TOKEN_FILE } from '../../gateway/local-token.js';
import { readStoredBundle, storedBundlePaths } from '../../gateway/bundles/stored-bundle.js';
import { DEFAULT_CONTROLLER_PORT } from '../../controller/run.js';
import { gooseConfigDir } from '../../installers/goose/paths.js';
import { DEMO_UPSTREAM_NAME } from '../run-gateway.js';
import { CUSTOM_PROVIDERS_DIR, GOOSE_CONFIG_FILE, PROVIDER_ID } from '../../installers/goose/paths.js';
import { gooseBaseUrl } from '../../installers/goose/provider-file.js';
import { allowlistUrl, readEnrolment } from '../../installers/goose/extensions.js';
import { localModelTarget, ollamaStatus } from './models-local.js';
import { activeRules, formatActiveRules } from './rules.js';

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface CheckResult {
  id: string;
  status: CheckStatus;
  message: string;
  /** How to fix it (fail and warn only). */
  fix?: string;
}

export interface DoctorOptions {
  dataDir: string;
  config: ReturnType<typeof loadContext>['config'];
  env: NodeJS.ProcessEnv;
  gatewayUrl?: string;
  controllerUrl?: string;
  gooseConfigDir?: string;
  /** Goose's state/data dirs, for the local-copies warning (default: XDG locations). */
  gooseStateDirs?: string[];
  timeoutMs?: number;
  nodeVersion?: string;
}

/** Bundles older than this are reported: the controller should refresh them far more often. */
const BUNDLE_STALE_S = 24 * 3600;

const pass = (id: string, message: string): CheckResult => ({ id, status: 'pass', message });
const warn = (id: string, message: string, fix: string): CheckResult => ({ id, status: 'warn', message, fix });
const fail = (id: string, message: string, fix: string): CheckResult => ({ id, status: 'fail', message, fix });

async function reachable(url: string, timeoutMs: number): Promise<{ ok: boolean; status?: number; error?: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return { ok: res.ok, status: res.status };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { ok: false, error: cause ?? (err as Error).message };
  }
}

function localGatewayUrl(gateway: GatewayConfig): string {
  const host = gateway.host === '0.0.0.0' || gateway.host === '::' ? '127.0.0.1' : gateway.host.includes(':') ? `[${gateway.host}]` : gateway.host;
  return `http://${host}:${gateway.port}`;
}

function checkNode(version: string): CheckResult {
  const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 18) || major > 24) {
    return fail('node', `Node ${version} is not supported (needs 20.18.1 – 24)`, 'install Node 22 LTS (e.g. `nvm install 22`)');
  }
  return pass('node', `Node ${version}`);
}

function checkDataDir(dataDir: string): CheckResult {
  if (!existsSync(dataDir)) return fail('data-dir', `data dir ${dataDir} does not exist`, 'run `switchboard up` once, or pass --data-dir');
  const mode = statSync(dataDir).mode & 0o777;
  if (mode & 0o077) return fail('data-dir', `data dir ${dataDir} is readable by others (mode ${mode.toString(8)}); it holds keys and tokens`, `chmod 700 ${dataDir}`);
  // Keys now live in the secret store; the files are those an upgrade has not moved yet.
  const loose = [LOCAL_TOKEN_FILE, 'controller-keys.json', 'controller-enrolment.json', 'guard-master.key', 'guard-vault.key', 'bundle-signing-keys.json', 'secrets/secrets.enc', 'secrets/machine.key']
    .map((f) => join(dataDir, f))
    .filter((f) => existsSync(f) && statSync(f).mode & 0o077);
  if (loose.length) return fail('data-dir', `secret files readable by others: ${loose.join(', ')}`, `chmod 600 ${loose.join(' ')}`);
  return pass('data-dir', `data dir ${dataDir} (mode 700, secrets 600)`);
}

async function checkBundle(dataDir: string, role: string, nowS: number): Promise<CheckResult> {
  const paths = storedBundlePaths(dataDir, role);
  const file = paths.file;
  try {
    const verified = await readStoredBundle(paths, role);
    if (!verified) {
      return fail('bundle', `no signed policy bundle for role ${role} in ${dirname(file)}`, 'start the gateway linked to a controller (`switchboard up`), which fetches it');
    }
    const ageS = Math.max(0, nowS - verified.issuedAt);
    const age = ageS < 3600 ? `${Math.round(ageS / 60)} min` : `${(ageS / 3600).toFixed(1)} h`;
    if (verified.expiresAt < nowS) return fail('bundle', `bundle ${verified.version} for ${role} expired ${new Date(verified.expiresAt * 1000).toISOString()}`, 'make sure the controller is reachable; the gateway refreshes the bundle itself');
    if (ageS > BUNDLE_STALE_S) return warn('bundle', `bundle ${verified.version} for ${role} is ${age} old`, 'check that the gateway can reach the controller (see the controller check)');
    return pass('bundle', `bundle ${verified.version} for ${role}: signature valid (key ${verified.kid}), ${age} old`);
  } catch (err) {
    return fail('bundle', `bundle for ${role} refused: ${(err as Error).message}`, `delete ${file} and restart the gateway to fetch a fresh one`);
  }
}

function hasUpstreamKey(gateway: GatewayConfig, env: NodeJS.ProcessEnv): { needed: boolean; present: boolean; name: string } {
  const primary = gateway.upstreams[0];
  if (!primary) return { needed: true, present: false, name: 'OPENROUTER_API_KEY' };
  const local = primary.kind === 'ollama' || /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(primary.baseUrl);
  const name = primary.apiKeyEnv ?? 'SWITCHBOARD_UPSTREAM_KEY';
  return { needed: !local, present: Boolean(env.SWITCHBOARD_UPSTREAM_KEY || env[name]), name };
}

interface GatewayReadiness {
  ready: boolean;
  policy?: { ready?: boolean; role?: string; state?: string };
  upstreams: Array<{ name: string; kind: string; state: string; hasKey: boolean }>;
}

/** The running gateway's /readyz: which upstreams it serves from and whether it has a policy. */
async function gatewayReadiness(gatewayUrl: string, timeoutMs: number): Promise<GatewayReadiness | undefined> {
  try {
    const res = await fetch(`${gatewayUrl}/readyz`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await res.json()) as Partial<GatewayReadiness>;
    return { ready: res.ok, ...(body.policy ? { policy: body.policy } : {}), upstreams: Array.isArray(body.upstreams) ? body.upstreams : [] };
  } catch {
    return undefined;
  }
}

/**
 * Key and reachability of the upstream. Levels follow the user's path: with no cloud key `up`
 * answers from the offline demo upstream, so a missing key is a warning unless a running gateway
 * actually sends model calls to a keyless cloud upstream (then every call fails).
 */
async function checkUpstream(gateway: GatewayConfig, env: NodeJS.ProcessEnv, live: GatewayReadiness | undefined, timeoutMs: number): Promise<CheckResult[]> {
  const key = hasUpstreamKey(gateway, env);
  const primary = gateway.upstreams[0];
  const demo = live?.upstreams[0]?.name === DEMO_UPSTREAM_NAME;
  const keyFix = `export ${key.name}=<your key>, then restart \`switchboard up\` to use real models`;
  const out: CheckResult[] = [];
  if (!key.needed) out.push(pass('upstream-key', 'local upstream: no key needed'));
  else if (key.present) out.push(pass('upstream-key', `upstream key present (${key.name})`));
  else if (demo) out.push(warn('upstream-key', `no cloud key (${key.name}): the gateway answers with the offline demo upstream, a stand-in for ${primary?.name ?? 'the cloud'} — no real model is called`, keyFix));
  else if (live) out.push(fail('upstream-key', `no upstream key: ${key.name} is not set, and the running gateway sends model calls to ${primary?.baseUrl ?? 'the cloud'} without one (they fail)`, keyFix));
  else out.push(warn('upstream-key', `no upstream key: ${key.name} is not set; \`switchboard up\` will answer with the offline demo upstream`, keyFix));

  if (demo) {
    out.push(pass('upstream', `offline demo upstream runs inside the gateway (stands in for ${primary?.name ?? 'the cloud'} at ${primary?.baseUrl ?? '?'})`));
    return out;
  }
  if (!primary) return out;
  const ollama = primary.kind === 'ollama';
  const up = await reachable(ollama ? primary.baseUrl.replace(/\/v1\/?$/, '') : `${primary.baseUrl}/models`, timeoutMs);
  if (up.status !== undefined) out.push(pass('upstream', `upstream ${primary.name} reachable at ${primary.baseUrl}`));
  else {
    const message = `upstream ${primary.name} not reachable at ${primary.baseUrl} (${up.error})`;
    const fix = ollama ? 'start Ollama (`ollama serve`) or change gateway.upstreams[0] in switchboard.yaml' : 'check the network, a proxy (HTTPS_PROXY) or gateway.upstreams[0].baseUrl in switchboard.yaml';
    // Without a key nothing is sent there yet (`up` uses the demo upstream): not what breaks today.
    out.push(key.needed && !key.present ? warn('upstream', message, fix) : fail('upstream', message, fix));
  }
  return out;
}

function readYaml(path: string): Record<string, unknown> | undefined {
  try {
    const doc = parseYaml(readFileSync(path, 'utf8')) as unknown;
    return doc && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function defaultGooseStateDirs(env: NodeJS.ProcessEnv): string[] {
  if (env.GOOSE_PATH_ROOT) return [join(env.GOOSE_PATH_ROOT, 'state'), join(env.GOOSE_PATH_ROOT, 'data')];
  const home = homedir();
  return [join(env.XDG_STATE_HOME ?? join(home, '.local', 'state'), 'goose'), join(env.XDG_DATA_HOME ?? join(home, '.local', 'share'), 'goose')];
}

export async function runDoctor(opts: DoctorOptions): Promise<CheckResult[]> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const gateway = applyGatewayEnv(opts.config.gateway, opts.env);
  const gatewayUrl = opts.gatewayUrl ?? localGatewayUrl(gateway);
  const enrolment = readEnrolment(opts.dataDir);
  const role = enrolment?.roles?.[0] ?? gateway.identity.role;
  const controllerUrl = opts.controllerUrl ?? opts.config.controller?.url ?? enrolment?.controllerUrl ?? `http://127.0.0.1:${DEFAULT_CONTROLLER_PORT}`;
  const results: CheckResult[] = [checkNode(opts.nodeVersion ?? process.version), checkDataDir(opts.dataDir)];

  const [gw, ctl] = await Promise.all([reachable(`${gatewayUrl}/healthz`, timeoutMs), reachable(`${controllerUrl}/healthz`, timeoutMs)]);
  // What the running gateway really uses (`up` swaps in the offline demo upstream when no key is set).
  const live = gw.ok ? await gatewayReadiness(gatewayUrl, timeoutMs) : undefined;
  if (!gw.ok) results.push(fail('gateway', `gateway not reachable at ${gatewayUrl} (${gw.error ?? `HTTP ${gw.status}`})`, 'start it: `switchboard up` (or `switchboard service install`)'));
  else if (live && !live.ready) {
    const why = live.policy?.ready === false ? `no valid policy bundle for role ${live.policy.role ?? role} (${live.policy.state ?? 'none'})` : 'every upstream is failing (circuit open)';
    results.push(fail('gateway', `gateway at ${gatewayUrl} runs but refuses model calls: ${why}`, live.policy?.ready === false ? 'make sure the controller is reachable (see the controller check); the gateway fetches its bundle itself' : 'see the upstream check; the gateway retries on its own'));
  } else results.push(pass('gateway', `gateway answers at ${gatewayUrl}`));
  results.push(
    ctl.ok
      ? pass('controller', `controller answers at ${controllerUrl}`)
      : fail('controller', `controller not reachable at ${controllerUrl} (${ctl.error ?? `HTTP ${ctl.status}`})`, enrolment ? 'start it: `switchboard up` runs one locally; for a remote org server check the URL and network' : 'run `switchboard up` (embedded controller) or `switchboard up --controller URL --code CODE`'),
  );
  results.push(await checkBundle(opts.dataDir, role, Math.floor(Date.now() / 1000)));
  try {
    const rules = await activeRules(opts.dataDir, gateway.downshift, role);
    results.push(rules.problem ? warn('downshift', formatActiveRules(rules), 'see the bundle check') : pass('downshift', formatActiveRules(rules)));
  } catch (err) {
    results.push(fail('downshift', `local downshift rule file is invalid: ${(err as Error).message.split('\n').join(' ')}`, 'fix it (`switchboard rules check <file>`) or remove it to use the bundle\'s rules'));
  }

  results.push(...(await checkUpstream(gateway, opts.env, live, timeoutMs)));

  const gooseDir = opts.gooseConfigDir ?? gooseConfigDir({ env: opts.env, platform: process.platform, home: homedir() });
  const gooseConfig = readYaml(join(gooseDir, GOOSE_CONFIG_FILE));
  const providerPath = join(gooseDir, CUSTOM_PROVIDERS_DIR, `${PROVIDER_ID}.json`);
  let provider: { base_url?: string } | undefined;
  try {
    provider = JSON.parse(readFileSync(providerPath, 'utf8')) as { base_url?: string };
  } catch {
    provider = undefined;
  }
  const installFix = `switchboard goose install --role ${role}`;
  if (!gooseConfig || gooseConfig.GOOSE_PROVIDER !== PROVIDER_ID) {
    results.push(fail('goose-provider', `Goose's config (${join(gooseDir, GOOSE_CONFIG_FILE)}) does not select the ${PROVIDER_ID} provider`, installFix));
  } else if (provider?.base_url !== gooseBaseUrl(gatewayUrl)) {
    results.push(fail('goose-provider', `Goose's provider points at ${provider?.base_url ?? '(missing file)'}, not ${gooseBaseUrl(gatewayUrl)}`, installFix));
  } else {
    results.push(pass('goose-provider', `Goose sends model calls to ${provider.base_url}`));
  }

  const expectedAllowlist = allowlistUrl(controllerUrl, role);
  const configured = typeof gooseConfig?.GOOSE_ALLOWLIST === 'string' ? gooseConfig.GOOSE_ALLOWLIST : opts.env.GOOSE_ALLOWLIST;
  if (!configured) {
    results.push(fail('allowlist', 'GOOSE_ALLOWLIST is not set in Goose', installFix));
  } else {
    const served = await reachable(configured, timeoutMs);
    if (!served.ok) results.push(fail('allowlist', `allowlist ${configured} is not served (${served.error ?? `HTTP ${served.status}`})`, `${installFix} (and make sure the controller runs)`));
    else if (configured !== expectedAllowlist) results.push(warn('allowlist', `GOOSE_ALLOWLIST is ${configured}, expected ${expectedAllowlist} for role ${role}`, installFix));
    else if (configured.startsWith('http:')) results.push(warn('allowlist', `allowlist served at ${configured}; Goose desktop fetches allowlists over HTTPS only (the gateway enforces it on every call regardless)`, 'put TLS in front of the controller (docs/deploy.md) and re-run goose install --controller-url https://…'));
    else results.push(pass('allowlist', `allowlist for ${role} served at ${configured}`));
  }

  const target = localModelTarget(gateway, opts.env);
  const ollama = await ollamaStatus(target, timeoutMs);
  if (!ollama.running) results.push(warn('ollama', `Ollama is not running at ${target.host}: no local fallback when the cloud is down`, 'install Ollama and run `ollama serve`'));
  else if (!ollama.fallbackPresent) results.push(warn('ollama', `Ollama ${ollama.version} runs, but the fallback model ${target.model} is missing`, 'switchboard models local pull'));
  else results.push(pass('ollama', `Ollama ${ollama.version} holds the fallback model ${target.model}`));

  // Goose's own bypasses (goose-integration.md §2.11, §3, §5): the gateway cannot see or stop these.
  const stateDirs = opts.gooseStateDirs ?? defaultGooseStateDirs(opts.env);
  const logs = stateDirs.map((d) => join(d, 'logs')).filter((d) => existsSync(d) && readdirSync(d).some((f) => f.startsWith('llm_request.')));
  const sessions = stateDirs.map((d) => join(d, 'sessions', 'sessions.db')).filter((f) => existsSync(f));
  results.push(warn('goose-local-copies', `Goose keeps unmasked request logs${logs.length ? ` (${logs.join(', ')})` : ' (logs/llm_request.*.jsonl)'} and a sessions database${sessions.length ? ` (${sessions.join(', ')})` : ''} on this machine, written before the gateway masks anything`, 'protect the disk (full-disk encryption) and clear them with `goose session remove` / by deleting the logs'));
  const bypasses: string[] = [];
  if (opts.env.GOOSE_PLANNER_PROVIDER || gooseConfig?.GOOSE_PLANNER_PROVIDER) bypasses.push('the planner (GOOSE_PLANNER_PROVIDER)');
  if (String(opts.env.GOOSE_TOOLSHIM ?? gooseConfig?.GOOSE_TOOLSHIM ?? '') === 'true') bypasses.push('the tool shim (GOOSE_TOOLSHIM talks to Ollama directly)');
  const editorHost = opts.env.GOOSE_EDITOR_HOST ?? (gooseConfig?.GOOSE_EDITOR_HOST as string | undefined);
  if (editorHost && !editorHost.startsWith(gatewayUrl)) bypasses.push(`the editor model (GOOSE_EDITOR_HOST=${editorHost})`);
  results.push(
    warn(
      'goose-bypasses',
      bypasses.length
        ? `these Goose calls skip the gateway: ${bypasses.join(', ')}; also any recipe with its own settings.goose_provider`
        : "Goose's planner, tool shim, editor model or a recipe's own settings.goose_provider can skip the gateway (none is configured now)",
      'leave GOOSE_PLANNER_PROVIDER, GOOSE_TOOLSHIM and GOOSE_EDITOR_HOST unset (or point them at the gateway) and use recipes without settings.goose_provider',
    ),
  );
  return results;
}

const MARK: Record<CheckStatus, string> = { pass: 'ok  ', warn: 'warn', fail: 'FAIL' };

export function formatDoctor(results: readonly CheckResult[]): string {
  const lines = results.flatMap((r) => [`[${MARK[r.status]}] ${r.id}: ${r.message}`, ...(r.fix ? [`       fix: ${r.fix}`] : [])]);
  const failed = results.filter((r) => r.status === 'fail').length;
  const warned = results.filter((r) => r.status === 'warn').length;
  lines.push('', failed ? `${failed} check(s) failed, ${warned} warning(s)` : `all checks passed, ${warned} warning(s)`);
  return `${lines.join('\n')}\n`;
}

interface DoctorFlags extends CommonOptions {
  json?: boolean;
  gatewayUrl?: string;
  controllerUrl?: string;
  gooseConfigDir?: string;
}

export function registerDoctorCommand(program: Command): void {
  addDataDirOption(
    program
      .command('doctor')
      .description('Check Node, data dir, gateway, controller, bundle, upstream, Goose wiring and Ollama; say how to fix what fails')
      .option('--json', 'print the results as JSON (same checks, for scripts)')
      .option('--gateway-url <url>', 'gateway address (default http://127.0.0.1:<configured port>)')
      .option('--controller-url <url>', 'controller address (default: controller.url, the enrolment, else http://127.0.0.1:8788)')
      .option('--goose-config-dir <dir>', "Goose's config dir (default: $GOOSE_PATH_ROOT/config, else ~/.config/goose)"),
  ).action(async (flags: DoctorFlags) => {
    const { dataDir, config } = loadContext(flags);
    const results = await runDoctor({
      dataDir: dataDir.root,
      config,
      env: process.env,
      ...(flags.gatewayUrl ? { gatewayUrl: parseUrl('--gateway-url', flags.gatewayUrl) } : {}),
      ...(flags.controllerUrl ? { controllerUrl: parseUrl('--controller-url', flags.controllerUrl) } : {}),
      ...(flags.gooseConfigDir ? { gooseConfigDir: flags.gooseConfigDir } : {}),
    });
    const ok = !results.some((r) => r.status === 'fail');
    process.stdout.write(flags.json ? `${JSON.stringify({ ok, checks: results }, null, 2)}\n` : formatDoctor(results));
    if (!ok) process.exitCode = 1;
  });
}
