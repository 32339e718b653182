/** `switchboard service install`: a systemd user unit or launchd agent that runs the gateway. */
import type { Command } from 'commander';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { addDataDirOption, CliError, loadContext, type CommonOptions } from '../cli-support.js';
import { writeFileAtomic } from '../../platform/atomic-file.js';
import { currentCliCommand, packageRoot } from '../../installers/service/command.js';
import { serviceEnvFile, serviceFile, type ServiceManager } from '../../installers/service/units.js';

interface InstallFlags extends CommonOptions {
  print?: boolean;
  write?: boolean;
  manager?: string;
  exec?: string;
}

function defaultManager(): ServiceManager {
  if (process.platform === 'darwin') return 'launchd';
  if (process.platform === 'win32') {
    throw new CliError('no service manager support on Windows yet: run `switchboard gateway` from Task Scheduler at logon');
  }
  return 'systemd';
}

export function registerServiceCommands(program: Command): void {
  const service = program.command('service').description('Run the gateway as a per-user background service (systemd or launchd)');
  addDataDirOption(
    service
      .command('install')
      .description('Print (default) or write a systemd user unit / launchd agent that runs `switchboard gateway`')
      .option('--print', 'print the service file (the default when --write is not given)')
      .option('--write', 'write the file into your user service directory (never starts or enables it)')
      .option('--manager <name>', 'systemd or launchd (default: launchd on macOS, systemd elsewhere)')
      .option('--exec <path>', 'switchboard executable the service runs (default: the one running now)'),
  )
    .addHelpText(
      'after',
      `
The unit runs \`switchboard gateway --data-dir <data-dir>\` and loads the upstream key from
<data-dir>/gateway.env (e.g. OPENROUTER_API_KEY=sk-or-...) if that file exists; no secret is put
in the unit. Switchboard never calls systemctl or launchctl: the commands to activate are printed.`,
    )
    .action((flags: InstallFlags) => {
      const manager = flags.manager ?? defaultManager();
      if (manager !== 'systemd' && manager !== 'launchd') throw new CliError(`--manager must be "systemd" or "launchd" (got "${manager}")`);
      const { dataDir } = loadContext(flags);
      let command: string[];
      if (flags.exec) {
        const exec = resolve(flags.exec);
        if (!existsSync(exec)) throw new CliError(`--exec: no such file "${flags.exec}"`);
        command = [exec];
      } else {
        command = currentCliCommand();
      }
      const workingDir = packageRoot(dirname(command[command.length - 1]!));
      const file = serviceFile(manager, { command, dataDir: resolve(dataDir.root), workingDir });

      if (!flags.write || flags.print) process.stdout.write(file.content);
      if (!flags.write) {
        process.stderr.write(`\n# To install: switchboard service install --write --data-dir '${dataDir.root}' (writes ${file.path})\n`);
        return;
      }
      const unchanged = existsSync(file.path) && readFileSync(file.path, 'utf8') === file.content;
      if (!unchanged) {
        mkdirSync(dirname(file.path), { recursive: true });
        writeFileAtomic(file.path, file.content, 0o644);
      }
      process.stderr.write(
        [
          `${unchanged ? 'unchanged' : 'wrote'} ${file.path}`,
          `Put the upstream key in ${serviceEnvFile(resolve(dataDir.root))} (KEY=value lines, mode 0600), then activate with:`,
          ...file.activate.map((c) => `  ${c}`),
          '',
        ].join('\n'),
      );
    });
}
