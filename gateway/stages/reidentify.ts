/**
 * reidentify (response stage): puts the real values back in place of the request's pseudonyms
 * before the client sees the answer, so the agent's tools run on real data. The route's wire
 * map (gateway/wire/) says where text lives: JSON answers are rewritten in place; SSE streams
 * are wrapped (never buffered) with the streaming re-identifier.
 * Error answers (non-2xx) are passed on as they are.
 */
import type { RequestContext, Stage } from '../context.js';
import { PseudonymMatcher, reidentifySse } from '../guard/reidentify-stream.js';
import { reidentifyBody } from '../guard/reidentify.js';
import { wireMapForRoute } from '../wire/index.js';
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
      const map = wireMapForRoute(ctx.route);
      if (!map) return;
      const matcher = new PseudonymMatcher(entries);
      if (response.kind === 'sse') {
        if (map.stream) response.events = reidentifySse(response.events, matcher, map.stream);
      } else if (response.kind === 'json') {
        if (reidentifyBody(map, response.body, matcher)) {
          // The upstream's bytes no longer match the body.
          delete response.bytes;
          delete response.headers['content-length'];
        }
      }
    },
  };
}
