/**
 * authenticate: only local callers holding the gateway token get through.
 * Accepts `Authorization: Bearer <token>` (OpenAI SDKs, Goose) or `x-api-key: <token>` (Anthropic SDKs).
 * The session id comes from Goose's `agent-session-id`, the `goose-session-id` that Goose
 * builds before the rename (PR #6626) send, or `x-switchboard-session-id`.
 */
import { timingSafeEqual } from 'node:crypto';
import type { RequestContext, Stage } from '../context.js';
import { GatewayError } from '../errors.js';

export interface AuthenticateOptions {
  localToken: string;
  identity: { tenantId: string; userId: string; role: string };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Session-id headers, newest Goose name first. */
export const SESSION_HEADERS = ['agent-session-id', 'goose-session-id', 'x-switchboard-session-id'] as const;

/** Goose ids look like `20251108_1`; anything else printable up to 128 characters is kept, the rest ignored. */
const SESSION_ID = /^[\x21-\x7e]{1,128}$/;

export function sessionIdOf(headers: RequestContext['headers']): string | undefined {
  for (const name of SESSION_HEADERS) {
    const v = headerValue(headers[name])?.trim();
    if (v && SESSION_ID.test(v)) return v;
  }
  return undefined;
}

export function presentedToken(headers: RequestContext['headers']): string | undefined {
  const auth = headerValue(headers['authorization']);
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m?.[1];
  }
  return headerValue(headers['x-api-key'])?.trim();
}

export function authenticateStage(opts: AuthenticateOptions): Stage {
  const expected = Buffer.from(opts.localToken);
  return {
    name: 'authenticate',
    phase: 'request',
    run(ctx: RequestContext) {
      const token = presentedToken(ctx.headers);
      if (!token) {
        throw new GatewayError(401, 'Missing gateway token: send "Authorization: Bearer <token>" (see `switchboard token`)', 'authentication_error', 'missing_token');
      }
      const given = Buffer.from(token);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new GatewayError(401, 'Invalid gateway token (see `switchboard token`)', 'authentication_error', 'invalid_token');
      }
      const sessionId = sessionIdOf(ctx.headers);
      const taskId = headerValue(ctx.headers['x-switchboard-task-id']);
      ctx.caller = {
        tenantId: opts.identity.tenantId,
        userId: opts.identity.userId,
        role: opts.identity.role,
        ...(sessionId ? { sessionId } : {}),
        ...(taskId ? { taskId } : {}),
      };
    },
  };
}
