/**
 * reidentify (response stage): puts the real values back in place of the request's pseudonyms
 * before the client sees the answer, so the agent's tools run on real data. JSON answers are
 * rewritten in place; SSE streams are wrapped (never buffered) with the streaming re-identifier.
 * Error answers (non-2xx) are passed on as they are.
 */
import type { RequestContext, Stage } from '../context.js';
import { PseudonymMatcher, reidentifyAnthropicSse, reidentifyOpenAiSse } from '../guard/reidentify-stream.js';
import { reidentifyAnthropicBody, reidentifyOpenAiBody } from '../guard/reidentify.js';
import type { RequestPseudonyms } from './privacy-guard.js';

export function reidentifyStage(pseudonyms: RequestPseudonyms): Stage {
  return {
    name: 'reidentify',
    phase: 'response',
    run(ctx: RequestContext) {
      const response = ctx.response;
      if (!response || response.status < 200 || response.status >= 300) return;
      const entries = pseudonyms.get(ctx);
      if (!entries || entries.length === 0) return;
      const matcher = new PseudonymMatcher(entries);
      if (response.kind === 'sse') {
        response.events = ctx.format === 'anthropic'
          ? reidentifyAnthropicSse(response.events, matcher)
          : reidentifyOpenAiSse(response.events, matcher);
      } else if (response.kind === 'json') {
        const changed = ctx.format === 'anthropic'
          ? reidentifyAnthropicBody(response.body, matcher)
          : reidentifyOpenAiBody(response.body, matcher);
        if (changed) {
          // The upstream's bytes no longer match the body.
          delete response.bytes;
          delete response.headers['content-length'];
        }
      }
    },
  };
}
