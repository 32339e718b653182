/**
 * Calls the controller's admin API from the CLI as the person (or token) this data dir speaks
 * for: `--token-env NAME` if given, else the data dir's sign-in (`switchboard login`), enrolment
 * or controller.tokenEnv/tokenFile. The URL: `--controller`, else controller.url in the config,
 * else the enrolled controller. Every failure is a CliError with the controller's message.
 */
import { CliError, loadContext, parseUrl, type CommonOptions } from './cli-support.js';
import { controllerTokenProvider } from '../gateway/bundles/controller-link.js';
import { resolveControllerLink } from '../gateway/bundles/controller-link-config.js';
import { readEnrolment } from '../gateway/bundles/enrolled-token.js';

export interface ControllerClientFlags extends CommonOptions {
  controller?: string;
  tokenEnv?: string;
}

export interface ControllerClient {
  base: string;
  /** JSON request; resolves to the parsed body of a 2xx answer, throws CliError otherwise. */
  json<T>(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<T>;
}

export function controllerClient(flags: ControllerClientFlags, env: NodeJS.ProcessEnv = process.env): ControllerClient {
  const { dataDir, config } = loadContext(flags);
  const url = flags.controller ?? config.controller?.url ?? readEnrolment(dataDir.root)?.controllerUrl;
  if (!url) throw new CliError('no controller URL: pass --controller <url>, set controller.url in switchboard.yaml, or enrol this machine');
  const base = parseUrl('--controller', url);
  const token = async (): Promise<string> => {
    if (flags.tokenEnv) {
      const value = env[flags.tokenEnv]?.trim();
      if (!value) throw new CliError(`--token-env: environment variable ${flags.tokenEnv} is not set`);
      return value;
    }
    try {
      return await controllerTokenProvider(config.controller ?? resolveControllerLink({ url: base }), dataDir.root, env)();
    } catch (err) {
      throw new CliError(`${(err as Error).message} (or pass --token-env NAME holding a controller token)`);
    }
  };
  return {
    base,
    async json<T>(method: 'GET' | 'PUT' | 'POST', path: string, body?: unknown): Promise<T> {
      const headers: Record<string, string> = { authorization: `Bearer ${await token()}` };
      if (body !== undefined) headers['content-type'] = 'application/json';
      let res: Response;
      try {
        res = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
      } catch (err) {
        throw new CliError(`cannot reach the controller at ${base}: ${(err as Error).message}`);
      }
      const text = await res.text();
      if (!res.ok) {
        let message = text.slice(0, 500);
        try {
          message = (JSON.parse(text) as { message?: string }).message ?? message;
        } catch {
          // not JSON: show the text
        }
        throw new CliError(`controller refused ${method} ${path} (HTTP ${res.status}): ${message}`);
      }
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new CliError(`controller answered ${method} ${path} with something that is not JSON`);
      }
    },
  };
}
