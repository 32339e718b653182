/** `switchboard enrol`: gives this gateway its controller identity from a one-time enrolment code. */
import type { Command } from 'commander';
import { addDataDirOption, CliError, loadContext, parseUrl, type CommonOptions } from '../cli-support.js';
import { ENROLMENT_FILE, EnrolmentError, enrolGateway } from '../../gateway/bundles/enrolled-token.js';

export function registerEnrolCommand(program: Command): void {
  addDataDirOption(
    program
      .command('enrol')
      .description("Enrol this gateway with the org controller using a one-time code (from `switchboard controller enrol-code`)")
      .requiredOption('--code <code>', 'the one-time enrolment code')
      .option('--controller <url>', 'controller base URL (default: controller.url from the config)')
      .addHelpText('after', `
The refresh token is stored in <data-dir>/${ENROLMENT_FILE} (0600); the gateway then fetches its
signed policy bundle and ships audit events with short-lived tokens it refreshes itself.
Add a "controller:" section with the url to switchboard.yaml (see docs/bundles.md).`),
  ).action(async (flags: CommonOptions & { code: string; controller?: string }) => {
    const { dataDir, config } = loadContext(flags);
    const url = flags.controller ? parseUrl('--controller', flags.controller) : config.controller?.url;
    if (!url) throw new CliError('no controller URL: pass --controller <url> or set controller.url in switchboard.yaml');
    try {
      const who = await enrolGateway(url, flags.code.trim(), dataDir.root);
      process.stdout.write(`enrolled as ${who.subject} (roles: ${who.roles.join(', ')}) with ${url}\n`);
    } catch (err) {
      if (err instanceof EnrolmentError) throw new CliError(err.message);
      throw err;
    }
  });
}
