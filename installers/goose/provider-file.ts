/**
 * Goose's declarative provider file for the gateway (custom_providers/switchboard.json, fields per
 * crates/goose/src/config/declarative_providers.rs). Engine `openai` with a base_url ending in
 * /goose/v1: Goose derives the POST path goose/v1/chat/completions from it, a non-default base path,
 * which keeps it on Chat Completions even for gpt-5/o-series ids (the Responses-API trap).
 */
import { PROVIDER_ID } from './paths.js';

export interface GooseModelEntry {
  name: string;
  context_limit: number;
}

export interface GooseProviderFile {
  name: string;
  engine: 'openai';
  display_name: string;
  description: string;
  api_key_env: string;
  base_url: string;
  requires_auth: boolean;
  headers: Record<string, string>;
  models: GooseModelEntry[];
  dynamic_models: boolean;
  supports_streaming: boolean;
  timeout_seconds: number;
  fast_model?: string;
}

/** Goose's own default when neither the provider file nor GOOSE_CONTEXT_LIMIT gives one. */
export const DEFAULT_CONTEXT_LIMIT = 128_000;

/** The prefix the gateway serves for Goose's declarative provider (gateway/server.ts ROUTE_PREFIXES). */
export const GOOSE_ROUTE_PREFIX = '/goose/v1';

/** `http://127.0.0.1:8787` (or one already ending in /goose/v1) → the provider's base_url. */
export function gooseBaseUrl(gatewayUrl: string): string {
  const trimmed = gatewayUrl.replace(/\/+$/, '');
  return trimmed.endsWith(GOOSE_ROUTE_PREFIX) ? trimmed : `${trimmed}${GOOSE_ROUTE_PREFIX}`;
}

export interface ProviderFileInputs {
  gatewayUrl: string;
  /** The gateway's local caller token; Goose sends it in the Authorization header. */
  token: string;
  model: string;
  fastModel?: string;
  /** Context window of a model id, when the model registry knows it. */
  contextLimit(model: string): number | undefined;
}

export function buildProviderFile(inputs: ProviderFileInputs): GooseProviderFile {
  const ids = [inputs.model, ...(inputs.fastModel && inputs.fastModel !== inputs.model ? [inputs.fastModel] : [])];
  return {
    name: PROVIDER_ID,
    engine: 'openai',
    display_name: 'Switchboard (local gateway)',
    description: 'Every model call goes through the local Switchboard gateway: privacy guard, cache, budgets and audit, then OpenRouter.',
    // No key of its own: the gateway token travels in `headers`, so Goose needs no secret set up.
    api_key_env: '',
    base_url: gooseBaseUrl(inputs.gatewayUrl),
    requires_auth: false,
    headers: { Authorization: `Bearer ${inputs.token}` },
    models: ids.map((name) => ({ name, context_limit: inputs.contextLimit(name) ?? DEFAULT_CONTEXT_LIMIT })),
    dynamic_models: true,
    supports_streaming: true,
    timeout_seconds: 600,
    ...(inputs.fastModel ? { fast_model: inputs.fastModel } : {}),
  };
}

export function serializeProviderFile(file: GooseProviderFile): string {
  return `${JSON.stringify(file, null, 2)}\n`;
}
