/** Environment overrides for the gateway section: SWITCHBOARD_UPSTREAM_URL, SWITCHBOARD_GATEWAY_PORT. */
import type { GatewayConfig } from '../gateway/config.js';
import { CliError, parsePort, parseUrl } from './cli-support.js';

export function applyGatewayEnv(config: GatewayConfig, env: NodeJS.ProcessEnv): GatewayConfig {
  const out: GatewayConfig = { ...config, upstreams: [...config.upstreams] };
  if (env.SWITCHBOARD_UPSTREAM_URL) {
    const primary = out.upstreams[0];
    if (!primary) throw new CliError('no upstream configured');
    out.upstreams[0] = { ...primary, baseUrl: parseUrl('SWITCHBOARD_UPSTREAM_URL', env.SWITCHBOARD_UPSTREAM_URL) };
  }
  if (env.SWITCHBOARD_GATEWAY_PORT) out.port = parsePort(env.SWITCHBOARD_GATEWAY_PORT);
  return out;
}
