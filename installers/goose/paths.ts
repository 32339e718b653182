/**
 * Where Goose keeps its user config (crates/goose/src/config/paths.rs, via the `etcetera` crate's
 * app strategy): GOOSE_PATH_ROOT/config when set; on Windows %APPDATA%\Block\goose\config; on
 * Linux and macOS the XDG config home ($XDG_CONFIG_HOME, else ~/.config) + /goose.
 */
import { homedir } from 'node:os';
import { isAbsolute, join, win32 } from 'node:path';

export interface GoosePathInputs {
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  home: string;
}

export function gooseConfigDir(inputs: GoosePathInputs = { env: process.env, platform: process.platform, home: homedir() }): string {
  const { env, platform, home } = inputs;
  if (env.GOOSE_PATH_ROOT) return join(env.GOOSE_PATH_ROOT, 'config');
  if (platform === 'win32') {
    const appData = env.APPDATA ?? win32.join(home, 'AppData', 'Roaming');
    return win32.join(appData, 'Block', 'goose', 'config');
  }
  // etcetera ignores a relative XDG_CONFIG_HOME, as the XDG spec says to.
  const xdg = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(home, '.config');
  return join(xdg, 'goose');
}

export const GOOSE_CONFIG_FILE = 'config.yaml';
export const CUSTOM_PROVIDERS_DIR = 'custom_providers';
/** Provider id Goose is switched to (GOOSE_PROVIDER) and the name of its declarative file. */
export const PROVIDER_ID = 'switchboard';
