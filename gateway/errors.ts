/**
 * Errors the gateway makes itself, in the caller's wire format.
 * Wording matters: Goose treats some 400 phrases as "context too long" and starts compacting,
 * so gateway messages avoid those phrases (see docs/goose.md).
 */
import type { GatewayResponse, JsonObject, WireFormat } from './context.js';

/**
 * Phrases that make Goose treat a 400 as "context length exceeded" and compact the
 * conversation (crates/goose/src/providers/http_status.rs; matched case-insensitively).
 */
export const GOOSE_CONTEXT_OVERFLOW_PHRASES: readonly string[] = [
  'too long', 'context length', 'context_length_exceeded', 'reduce the length', 'token count', 'exceeds',
  'exceed context limit', 'input length', 'max_tokens', 'decrease input length', 'context limit', 'maximum prompt length',
];

/** True when Goose would read this error message as "context too long". */
export function readsAsContextOverflow(message: string): boolean {
  const lower = message.toLowerCase();
  return GOOSE_CONTEXT_OVERFLOW_PHRASES.some((p) => lower.includes(p));
}

export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** OpenAI-style error type, e.g. invalid_request_error, authentication_error. */
    readonly type: string,
    readonly code?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

const anthropicTypeByStatus: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  529: 'overloaded_error',
};

export function errorBody(format: WireFormat, err: GatewayError): JsonObject {
  if (format === 'anthropic') {
    return { type: 'error', error: { type: anthropicTypeByStatus[err.status] ?? 'api_error', message: err.message } };
  }
  return { error: { message: err.message, type: err.type, code: err.code ?? null } };
}

export function errorResponse(format: WireFormat, err: GatewayError): GatewayResponse {
  return {
    kind: 'json',
    status: err.status,
    headers: { 'content-type': 'application/json', ...err.headers },
    body: errorBody(format, err),
  };
}
