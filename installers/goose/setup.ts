/**
 * `switchboard goose setup`: plans and applies the two changes that point Goose at the gateway —
 * the declarative provider file and GOOSE_PROVIDER/GOOSE_MODEL(/GOOSE_FAST_MODEL) in config.yaml.
 * Planning reads only; applying writes atomically, keeps config.yaml.bak, and skips files whose
 * content would not change (so re-running is a no-op).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../platform/atomic-file.js';
import { rmSync } from 'node:fs';
import { createTwoFilesPatch } from 'diff';
import { isMap, parseDocument } from 'yaml';
import { mergeGooseConfig, type ExtensionEntry, type KeyChange } from './config-yaml.js';
import { CUSTOM_PROVIDERS_DIR, GOOSE_CONFIG_FILE, PROVIDER_ID } from './paths.js';
import { buildProviderFile, serializeProviderFile, type ProviderFileInputs } from './provider-file.js';

export interface PlannedFile {
  path: string;
  content: string;
  /** File mode for a new file. */
  mode: number;
  /** An updated file keeps its current mode (a user's file) instead of `mode` (ours, holding the token). */
  keepMode: boolean;
  action: 'create' | 'update' | 'unchanged';
  /** Where the previous content is saved before an update. */
  backupPath?: string;
}

export interface GooseSetupPlan {
  configDir: string;
  providerFile: PlannedFile;
  configFile: PlannedFile;
  keyChanges: KeyChange[];
}

export interface GooseSetupInputs extends ProviderFileInputs {
  configDir: string;
  /** Also set GOOSE_FAST_MODEL in config.yaml (the provider file's fast_model is always written). */
  setFastModelKey: boolean;
  /** Entries to register under `extensions:` (Switchboard's MCP servers). */
  extensions?: Record<string, ExtensionEntry>;
  /** GOOSE_ALLOWLIST: the role's allowlist URL served by the controller. */
  allowlistUrl?: string;
}

function readIfExists(path: string): string | undefined {
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/**
 * The backup should hold the user's config from before Switchboard took over: it is (re)written when
 * the provider switches to ours, or when there is none yet — not when we only change our own settings.
 */
function keepsOriginal(backupPath: string, changes: KeyChange[]): boolean {
  return !existsSync(backupPath) || changes.some((c) => c.key === 'GOOSE_PROVIDER');
}

export function planGooseSetup(inputs: GooseSetupInputs): GooseSetupPlan {
  const providerPath = join(inputs.configDir, CUSTOM_PROVIDERS_DIR, `${PROVIDER_ID}.json`);
  const providerText = serializeProviderFile(buildProviderFile(inputs));
  const currentProvider = readIfExists(providerPath);

  const configPath = join(inputs.configDir, GOOSE_CONFIG_FILE);
  const currentConfig = readIfExists(configPath);
  const settings: Record<string, string> = { GOOSE_PROVIDER: PROVIDER_ID, GOOSE_MODEL: inputs.model };
  if (inputs.setFastModelKey && inputs.fastModel) settings.GOOSE_FAST_MODEL = inputs.fastModel;
  if (inputs.allowlistUrl) settings.GOOSE_ALLOWLIST = inputs.allowlistUrl;
  const merged = mergeGooseConfig(currentConfig, settings, configPath, inputs.extensions ?? {});

  return {
    configDir: inputs.configDir,
    providerFile: {
      path: providerPath,
      content: providerText,
      // It carries the gateway token.
      mode: 0o600,
      keepMode: false,
      action: currentProvider === undefined ? 'create' : currentProvider === providerText ? 'unchanged' : 'update',
    },
    configFile: {
      path: configPath,
      content: merged.text,
      mode: 0o644,
      keepMode: true,
      action: currentConfig === undefined ? 'create' : merged.text === currentConfig ? 'unchanged' : 'update',
      ...(currentConfig !== undefined && keepsOriginal(`${configPath}.bak`, merged.changes) ? { backupPath: `${configPath}.bak` } : {}),
    },
    keyChanges: merged.changes,
  };
}

function writePlanned(file: PlannedFile): void {
  if (file.action === 'unchanged') return;
  let mode = file.mode;
  if (file.action === 'update') {
    if (file.keepMode) mode = statSync(file.path).mode & 0o777;
    if (file.backupPath) copyFileSync(file.path, file.backupPath);
  }
  writeFileAtomic(file.path, file.content, mode);
}

export function applyGooseSetup(plan: GooseSetupPlan): void {
  mkdirSync(join(plan.configDir, CUSTOM_PROVIDERS_DIR), { recursive: true, mode: 0o700 });
  // Provider first: a config.yaml naming a provider that does not exist yet would break Goose.
  writePlanned(plan.providerFile);
  writePlanned(plan.configFile);
}

/** The token in a printed plan: enough to recognise, not enough to use. */
export function redactToken(text: string, token: string): string {
  return token.length > 0 ? text.split(token).join(`${token.slice(0, 9)}…(redacted)`) : text;
}

/** The plan as a unified diff per changed file (token redacted), for --dry-run. */
export function planDiff(plan: GooseSetupPlan, token: string): string {
  const parts: string[] = [];
  for (const file of [plan.providerFile, plan.configFile]) {
    if (file.action === 'unchanged') continue;
    const before = existsSync(file.path) ? redactToken(readFileSync(file.path, 'utf8'), token) : '';
    const after = redactToken(file.content, token);
    parts.push(createTwoFilesPatch(file.action === 'create' ? '/dev/null' : file.path, file.path, before, after, '', '', { context: 3 }).trimEnd());
  }
  return parts.join('\n');
}

export interface UninstallResult {
  restored?: string;
  removed: string[];
  /** Keys taken out of config.yaml when there was no backup to restore. */
  cleaned: string[];
}

/**
 * Undoes `goose install`: config.yaml.bak (the config from before Switchboard took over) is put
 * back; without one, only Switchboard's keys and extensions are taken out. The provider file goes.
 */
export function uninstallGooseSetup(configDir: string, ourExtensionKeys: readonly string[]): UninstallResult {
  const result: UninstallResult = { removed: [], cleaned: [] };
  const configPath = join(configDir, GOOSE_CONFIG_FILE);
  const backup = `${configPath}.bak`;
  if (existsSync(backup)) {
    copyFileSync(backup, configPath);
    rmSync(backup);
    result.restored = configPath;
  } else if (existsSync(configPath)) {
    const doc = parseDocument(readFileSync(configPath, 'utf8'));
    if (doc.errors.length === 0 && isMap(doc.contents)) {
      if (doc.get('GOOSE_PROVIDER') === PROVIDER_ID) {
        for (const key of ['GOOSE_PROVIDER', 'GOOSE_MODEL', 'GOOSE_FAST_MODEL']) if (doc.delete(key)) result.cleaned.push(key);
      }
      if (doc.delete('GOOSE_ALLOWLIST')) result.cleaned.push('GOOSE_ALLOWLIST');
      for (const key of ourExtensionKeys) if (doc.deleteIn(['extensions', key])) result.cleaned.push(`extensions.${key}`);
      if (result.cleaned.length > 0) writeFileAtomic(configPath, doc.toString(), statSync(configPath).mode & 0o777);
    }
  }
  const providerPath = join(configDir, CUSTOM_PROVIDERS_DIR, `${PROVIDER_ID}.json`);
  if (existsSync(providerPath)) {
    rmSync(providerPath);
    result.removed.push(providerPath);
  }
  return result;
}
