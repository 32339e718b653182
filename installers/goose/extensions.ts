/**
 * Switchboard's MCP servers as Goose `extensions:` entries (stdio, goose-integration.md §4.1), and
 * the allowlist URL GOOSE_ALLOWLIST points at. Goose starts the extensions itself, so the command
 * must run without a shell: node + the built CLI script (or how this CLI was started, from source).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExtensionEntry } from './config-yaml.js';
import { SWITCHBOARD_EXTENSIONS } from '../../policies/extensions.js';
import { currentCliCommand, packageRoot } from '../service/command.js';
import { ENROLMENT_FILE } from '../../gateway/bundles/enrolled-token.js';

/** `[node, …, script]` that runs this package's CLI. */
export function switchboardCommand(): string[] {
  const built = join(packageRoot(fileURLToPath(new URL('.', import.meta.url))), 'dist', 'bin', 'switchboard.js');
  return existsSync(built) ? [process.execPath, built] : currentCliCommand();
}

export function switchboardExtensionEntries(command: readonly string[], dataDir: string): Record<string, ExtensionEntry> {
  const [cmd, ...prefix] = command;
  const entries: Record<string, ExtensionEntry> = {};
  for (const ext of SWITCHBOARD_EXTENSIONS) {
    entries[ext.key] = {
      enabled: true,
      type: 'stdio',
      name: ext.key,
      description: ext.description,
      cmd: cmd!,
      args: [...prefix, ...ext.args, '--data-dir', dataDir],
      timeout: 300,
    };
  }
  return entries;
}

export function allowlistUrl(controllerUrl: string, role: string): string {
  return `${controllerUrl.replace(/\/+$/, '')}/api/v1/goose/allowlist/${role}`;
}

/** The gateway's enrolment (controller URL and roles), if it has one. */
export function readEnrolment(dataDir: string): { controllerUrl?: string; roles?: string[]; subject?: string } | undefined {
  const file = join(dataDir, ENROLMENT_FILE);
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { controllerUrl?: string; roles?: string[]; subject?: string };
  } catch {
    return undefined;
  }
}
