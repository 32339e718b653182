/**
 * Service definitions that keep `switchboard gateway` running for one user: a systemd user unit
 * (Linux) and a launchd agent (macOS). Both read the upstream key from <data-dir>/gateway.env when
 * that file exists, so no secret is ever written into the unit itself.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export type ServiceManager = 'systemd' | 'launchd';

export const SYSTEMD_UNIT_NAME = 'switchboard-gateway.service';
export const LAUNCHD_LABEL = 'dev.switchboard.gateway';

export interface ServiceInputs {
  /** argv that starts the CLI, e.g. [node, --import, tsx, /path/bin/switchboard.ts] or [/usr/local/bin/switchboard]. */
  command: string[];
  /** Absolute data dir handed to `switchboard gateway --data-dir`. */
  dataDir: string;
  /** Directory the service runs in (the package root, so loader flags like `--import tsx` resolve). */
  workingDir: string;
}

/** Environment file (KEY=value lines) the service loads if present, e.g. OPENROUTER_API_KEY=... */
export function serviceEnvFile(dataDir: string): string {
  return join(dataDir, 'gateway.env');
}

function gatewayArgv(inputs: ServiceInputs): string[] {
  return [...inputs.command, 'gateway', '--data-dir', inputs.dataDir];
}

/** systemd's own quoting for ExecStart arguments; `%` and `$` would otherwise be expanded. */
function systemdQuote(arg: string): string {
  const escaped = arg.replaceAll('%', '%%').replaceAll('$', '$$$$');
  return /[\s"'\\;]/.test(escaped) || escaped === '' ? `"${escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"` : escaped;
}

/** Path settings take the path verbatim (no quotes), but still expand `%` specifiers. */
function systemdPath(path: string): string {
  return path.replaceAll('%', '%%');
}

export function systemdUnit(inputs: ServiceInputs): string {
  return `[Unit]
Description=Switchboard LLM gateway (local proxy for Goose and other agents)
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
ExecStart=${gatewayArgv(inputs).map(systemdQuote).join(' ')}
WorkingDirectory=${systemdPath(inputs.workingDir)}
# Upstream key (OPENROUTER_API_KEY=...) lives here, not in this unit; "-" = optional.
EnvironmentFile=-${systemdPath(serviceEnvFile(inputs.dataDir))}
Restart=on-failure
RestartSec=2
UMask=0077
NoNewPrivileges=yes

[Install]
WantedBy=default.target
`;
}

function xml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}

export function launchdPlist(inputs: ServiceInputs): string {
  // launchd has no EnvironmentFile: a tiny sh wrapper loads it (if present) and execs the gateway.
  const loader = 'set -a; [ -f "$1" ] && . "$1"; set +a; shift; exec "$@"';
  const argv = ['/bin/sh', '-c', loader, 'switchboard-gateway', serviceEnvFile(inputs.dataDir), ...gatewayArgv(inputs)];
  const logs = join(inputs.dataDir, 'logs');
  return `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
${argv.map((a) => `    <string>${xml(a)}</string>`).join('\n')}
  </array>
  <key>WorkingDirectory</key>
  <string>${xml(inputs.workingDir)}</string>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>Umask</key>
  <integer>63</integer>
  <key>StandardOutPath</key>
  <string>${xml(join(logs, 'service.out.log'))}</string>
  <key>StandardErrorPath</key>
  <string>${xml(join(logs, 'service.err.log'))}</string>
</dict>
</plist>
`;
}

export interface ServiceFile {
  manager: ServiceManager;
  /** Where the file goes for the current user. */
  path: string;
  content: string;
  /** Commands the user runs afterwards (never run by switchboard itself). */
  activate: string[];
}

export function serviceFile(manager: ServiceManager, inputs: ServiceInputs, home: string = homedir(), env: NodeJS.ProcessEnv = process.env): ServiceFile {
  if (manager === 'systemd') {
    const configHome = env.XDG_CONFIG_HOME || join(home, '.config');
    return {
      manager,
      path: join(configHome, 'systemd', 'user', SYSTEMD_UNIT_NAME),
      content: systemdUnit(inputs),
      activate: ['systemctl --user daemon-reload', `systemctl --user enable --now ${SYSTEMD_UNIT_NAME}`],
    };
  }
  const path = join(home, 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`);
  return {
    manager,
    path,
    content: launchdPlist(inputs),
    activate: [`launchctl bootstrap gui/$(id -u) '${path}'`],
  };
}
