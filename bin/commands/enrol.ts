/** `switchboard enrol`: gives this gateway its controller identity from a one-time enrolment code. */
import type { Command } from 'commander';
import { addDataDirOption, CliError, loadContext, parseUrl, type CommonOptions } from '../cli-support.js';
import { ENROLMENT_FILE, EnrolmentError, enrolGateway } from '../../gateway/bundles/enrolled-token.js';

export function registerEnrolCommand(program: Command): void {
  addDataDirOption(
    program
      .command('enrol')
      .description("Enrol this gateway with the org controller using a one-time code (from `switchboard controller enrol-code`)")
      .requiredOption('--code <code>', 'the one-time enrolment code (sbe_….<key fingerprint>)')
      .option('--controller <url>', 'controller base URL (default: controller.url from the config)')
      .option('--insecure', 'allow a plain http:// URL to a controller that is not on this machine')
      .option('--controller-ca <file>', "PEM file of the private CA that signed the controller's certificate (default: controller.caFile)"),
  )
    .addHelpText('after', `
Checks the controller's bundle signing keys against the fingerprint in the code, then stores
the controller URL, tenant, subject, roles and refresh token in <data-dir>/${ENROLMENT_FILE} (0600)
and the pinned keys in <data-dir>/bundles/bundle-keys.json. The next \`switchboard gateway\` (or
\`up\`) on this data dir fetches the role's signed policy bundle, ships audit events and records
usage as the enrolled subject; no config edit is needed (see docs/bundles.md).`)
    .action(async (flags: CommonOptions & { code: string; controller?: string; insecure?: boolean }) => {
      process.stdout.write(await enrolCommand(flags));
    });
}

/** Runs the enrolment; returns what to print. */
export async function enrolCommand(flags: CommonOptions & { code: string; controller?: string; insecure?: boolean }): Promise<string> {
  const { dataDir, config } = loadContext(flags);
  const url = flags.controller ? parseUrl('--controller', flags.controller) : config.controller?.url;
  if (!url) throw new CliError('no controller URL: pass --controller <url> or set controller.url in switchboard.yaml');
  try {
    const who = await enrolGateway(url, flags.code.trim(), dataDir.root, { insecure: flags.insecure === true || config.controller?.insecure === true });
    return [
      `enrolled as ${who.subject} (tenant ${who.tenant}, roles: ${who.roles.join(', ')}) with ${who.controllerUrl}`,
      `start the gateway with: switchboard gateway --data-dir ${dataDir.root}`,
      '',
    ].join('\n');
  } catch (err) {
    if (err instanceof EnrolmentError) throw new CliError(err.message);
    throw err;
  }
}
