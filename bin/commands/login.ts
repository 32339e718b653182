/** `switchboard login` / `switchboard logout`: sign the person in with their company's OIDC SSO. */
import type { Command } from 'commander';
import { addControllerCaOption, addDataDirOption, CliError, loadContext, parseUrl, type CommonOptions } from '../cli-support.js';
import { login } from '../../gateway/identity/oidc-login.js';
import { SIGNIN_FILE, SignInError, signOut } from '../../gateway/identity/signin.js';

/** No display server: the browser flow cannot open a window, so use the device flow. */
function headless(env: NodeJS.ProcessEnv): boolean {
  if (process.platform === 'darwin' || process.platform === 'win32') return Boolean(env.SSH_CONNECTION);
  return !env.DISPLAY && !env.WAYLAND_DISPLAY;
}

export function registerLoginCommands(program: Command): void {
  addDataDirOption(
    program
      .command('login')
      .description('Sign in with your company SSO (OIDC); the gateway then acts as you with short-lived tokens it renews itself')
      .option('--controller <url>', 'controller base URL (default: controller.url from the config)')
      .option('--issuer <name>', 'identity provider to use when the controller trusts several')
      .option('--device', 'use the device-code flow (enter a code on another device); the default on machines without a display')
      .option('--browser', 'use the browser flow (PKCE, loopback redirect) even without a display')
      .option('--controller-ca <file>', "PEM file of the private CA that signed the controller's certificate (default: controller.caFile)")
      .addHelpText('after', `
The sign-in is kept in <data-dir>/${SIGNIN_FILE} (0600) and its single-use session token in the
secret store (signin.session-token); the gateway rotates the token each time it renews your agent
token (at most 30 minutes). \`switchboard logout\` ends it.`),
  ).action(async (flags: CommonOptions & { controller?: string; issuer?: string; device?: boolean; browser?: boolean }) => {
    const { dataDir, config } = loadContext(flags);
    const url = flags.controller ? parseUrl('--controller', flags.controller) : config.controller?.url;
    if (!url) throw new CliError('no controller URL: pass --controller <url> or set controller.url in switchboard.yaml');
    if (flags.device && flags.browser) throw new CliError('choose one of --device and --browser');
    const flow = flags.device ? 'device' : flags.browser ? 'browser' : headless(process.env) ? 'device' : 'browser';
    try {
      const who = await login({
        controllerUrl: url,
        dataDir: dataDir.root,
        ...(flags.issuer ? { issuer: flags.issuer } : {}),
        flow,
        openUrl: (authUrl) => {
          process.stderr.write(`Open this address in your browser to sign in:\n\n  ${authUrl}\n\nWaiting for the sign-in to finish ...\n`);
        },
        showDeviceCode: (p) => {
          process.stderr.write(`On any device, open ${p.verificationUriComplete ?? p.verificationUri}\nand enter the code:  ${p.userCode}\n(valid ${Math.round(p.expiresIn / 60)} min). Waiting ...\n`);
        },
      });
      process.stdout.write(`signed in as ${who.subject} (roles: ${who.roles.join(', ')}) via ${who.issuer}; sign-in valid until ${new Date(who.sessionExpiresAt * 1000).toISOString()}\n`);
    } catch (err) {
      if (err instanceof SignInError) throw new CliError(err.message);
      throw err;
    }
  });

  addDataDirOption(
    addControllerCaOption(program.command('logout').description('End your SSO sign-in: the controller revokes it and this machine forgets it')),
  ).action(async (flags: CommonOptions) => {
    const { dataDir } = loadContext(flags);
    try {
      const was = await signOut(dataDir.root);
      process.stdout.write(was ? `signed out ${was.subject}\n` : 'not signed in\n');
    } catch (err) {
      if (err instanceof SignInError) throw new CliError(`${err.message} (the local sign-in was removed anyway)`);
      throw err;
    }
  });
}
