/**
 * `switchboard goose env`: the environment-variable alternative to the declarative provider, for
 * Goose's built-in providers (env vars win over config.yaml in Goose):
 *   openai      OPENAI_HOST=<gateway> + OPENAI_BASE_PATH=/v1/chat/completions — the leading slash
 *               makes the base path non-default, which keeps gpt-5/o-series ids off /v1/responses
 *   openrouter  OPENROUTER_HOST=<gateway> (Goose calls /api/v1/...), keeps OpenRouter body fields
 */

export type EnvProvider = 'openai' | 'openrouter';
export type ShellKind = 'sh' | 'fish' | 'powershell';

export interface EnvInputs {
  provider: EnvProvider;
  gatewayUrl: string;
  token: string;
  model: string;
  fastModel?: string;
  /** The caller's current NO_PROXY, kept after the loopback entries. */
  existingNoProxy?: string;
}

const LOOPBACK = ['127.0.0.1', 'localhost'];

export function noProxyValue(existing: string | undefined): string {
  const entries = [...LOOPBACK, ...(existing ?? '').split(',').map((e) => e.trim()).filter(Boolean)];
  return [...new Set(entries)].join(',');
}

export function gooseEnv(inputs: EnvInputs): Array<[name: string, value: string]> {
  const url = inputs.gatewayUrl.replace(/\/+$/, '');
  const vars: Array<[string, string]> = [['GOOSE_PROVIDER', inputs.provider]];
  if (inputs.provider === 'openai') {
    vars.push(['OPENAI_HOST', url], ['OPENAI_BASE_PATH', '/v1/chat/completions'], ['OPENAI_API_KEY', inputs.token]);
  } else {
    // The openrouter provider always sends its key as a Bearer token: the gateway token goes there.
    vars.push(['OPENROUTER_HOST', url], ['OPENROUTER_API_KEY', inputs.token]);
  }
  vars.push(['GOOSE_MODEL', inputs.model]);
  if (inputs.fastModel) vars.push(['GOOSE_FAST_MODEL', inputs.fastModel]);
  // Goose's HTTP client honours HTTPS_PROXY/HTTP_PROXY; the gateway is local and must not go through one.
  const noProxy = noProxyValue(inputs.existingNoProxy);
  vars.push(['NO_PROXY', noProxy], ['no_proxy', noProxy]);
  return vars;
}

function quote(shell: ShellKind, value: string): string {
  if (shell === 'powershell') return `'${value.replaceAll("'", "''")}'`;
  if (shell === 'fish') return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

export function renderEnv(vars: Array<[string, string]>, shell: ShellKind): string {
  const lines = vars.map(([name, value]) => {
    if (shell === 'fish') return `set -gx ${name} ${quote(shell, value)}`;
    if (shell === 'powershell') return `$env:${name} = ${quote(shell, value)}`;
    return `export ${name}=${quote(shell, value)}`;
  });
  return `${lines.join('\n')}\n`;
}
