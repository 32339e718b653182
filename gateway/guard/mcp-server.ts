/**
 * The Privacy Guard as MCP tools over stdio (official MCP SDK), for agents that want to check
 * or mask text themselves before it goes anywhere:
 *   privacy_guard.detect(text)             → { entities }
 *   privacy_guard.process(text, policy?)   → { masked, mapRef, redactions }
 *   privacy_guard.reidentify(text, mapRef) → { text }
 * `mapRef` names the pseudonym map kept (encrypted, with a TTL) in the vault. Tool-level
 * problems (bad policy, blocked class, unknown mapRef) come back as `isError` results; stdout
 * carries only the protocol, so nothing here logs to it.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { defaultGuardPolicy, type GuardPolicy } from '../../policies/guard-policy.js';
import type { DetectFn } from './types.js';
import type { TenantKeys } from './pseudonym.js';
import type { Vault } from './vault.js';
import { maskText } from './mask-request.js';
import { parseGuardPolicy, resolveGuardPolicy } from './policy-modes.js';
import { PseudonymMatcher, reidentifyText } from './reidentify-stream.js';
import { blockMessage } from '../stages/privacy-guard.js';

export interface GuardMcpDeps {
  detect: DetectFn;
  keys: TenantKeys;
  vault: Vault;
  tenantId: string;
  /** Policy used when a call gives none (default: mask every class). */
  policy?: GuardPolicy;
  version: string;
}

/** Texts above this are refused: the tools are for prompts and documents, not bulk data. */
export const MAX_TEXT_CHARS = 4_000_000;

const entitySchema = z.object({
  start: z.number().int(),
  end: z.number().int(),
  class: z.string(),
  score: z.number(),
  detector: z.string(),
});

function failure(message: string): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: message }] };
}

function success<T extends Record<string, unknown>>(data: T): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(data) }], structuredContent: data };
}

export function createGuardMcpServer(deps: GuardMcpDeps): McpServer {
  const server = new McpServer({ name: 'switchboard-privacy-guard', version: deps.version });
  const text = z.string().max(MAX_TEXT_CHARS).describe('The text to examine');

  server.registerTool(
    'privacy_guard.detect',
    {
      title: 'Detect PII and secrets',
      description: 'Finds personal data and secrets in a text. Returns each entity\'s class, UTF-16 start/end offsets, confidence score and detector; never changes the text.',
      inputSchema: { text },
      outputSchema: { entities: z.array(entitySchema) },
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ text: input }) => {
      const policy = resolveGuardPolicy(deps.policy ?? defaultGuardPolicy);
      const entities = deps.detect(input, policy.detectOptions).filter((f) => policy.modeFor(f.class) !== 'off').map((f) => ({
        start: f.start, end: f.end, class: f.class, score: f.score, detector: f.detector,
      }));
      return success({ entities });
    },
  );

  server.registerTool(
    'privacy_guard.process',
    {
      title: 'Mask PII and secrets',
      description: 'Replaces personal data and secrets with deterministic pseudonyms (e.g. EMAIL_7F3A2C9B) per the guard policy. ' +
        'Returns the masked text and a mapRef for privacy_guard.reidentify. A policy with a class in "block" mode refuses texts containing it.',
      inputSchema: {
        text,
        policy: z.record(z.string(), z.unknown()).optional()
          .describe('Guard policy, e.g. {"defaultMode":"mask","classes":{"API_KEY":"block"}}; default masks every class'),
      },
      outputSchema: { masked: z.string(), mapRef: z.string(), redactions: z.record(z.string(), z.number()) },
      annotations: { readOnlyHint: false, idempotentHint: true, openWorldHint: false },
    },
    ({ text: input, policy: rawPolicy }) => {
      let policy = deps.policy ?? defaultGuardPolicy;
      if (rawPolicy !== undefined) {
        const parsed = parseGuardPolicy(rawPolicy);
        if ('problems' in parsed) return failure(`Invalid policy: ${parsed.problems.join('; ')}`);
        policy = parsed.policy;
      }
      const resolved = resolveGuardPolicy(policy);
      const { masked, result } = maskText(input, {
        detect: deps.detect,
        detectOptions: resolved.detectOptions,
        modeFor: resolved.modeFor,
        styleFor: resolved.styleFor,
        pseudonymizer: deps.keys.pseudonymizer(deps.tenantId),
      });
      if (result.blocked) return failure(blockMessage(result.blocked));
      const mapRef = deps.vault.putMap(deps.tenantId, result.entries);
      return success({ masked, mapRef, redactions: result.redactions });
    },
  );

  server.registerTool(
    'privacy_guard.reidentify',
    {
      title: 'Restore masked values',
      description: 'Puts the real values back into a text that contains pseudonyms from an earlier privacy_guard.process call.',
      inputSchema: { text, mapRef: z.string().regex(/^map_[A-Za-z0-9_-]{16}$/).describe('mapRef returned by privacy_guard.process') },
      outputSchema: { text: z.string() },
      annotations: { readOnlyHint: true, idempotentHint: true, openWorldHint: false },
    },
    ({ text: input, mapRef }) => {
      const entries = deps.vault.getMap(deps.tenantId, mapRef);
      if (!entries) return failure(`Unknown or expired mapRef "${mapRef}"`);
      return success({ text: reidentifyText(new PseudonymMatcher(entries), input) });
    },
  );

  return server;
}
