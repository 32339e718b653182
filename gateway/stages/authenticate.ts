/**
 * authenticate: only local callers holding the gateway token get through.
 * Accepts `Authorization: Bearer <token>` (OpenAI SDKs, Goose) or `x-api-key: <token>` (Anthropic SDKs).
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
      const sessionId = headerValue(ctx.headers['agent-session-id']) ?? headerValue(ctx.headers['x-switchboard-session-id']);
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
