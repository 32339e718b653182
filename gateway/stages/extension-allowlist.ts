/**
 * extensionAllowlist: enforces the role's Goose extension allowlist (`extensions.allow` in the
 * policy) on every model call, because Goose itself checks its allowlist only on deep-link
 * installs (goose-integration.md §4.3). Goose names tools `<extension>__<tool>`, so:
 *   - request phase: every tool of a disallowed extension is removed from `tools` (the model never
 *     learns it exists);
 *   - response phase: a tool call to a disallowed extension in the answer (JSON or stream) is
 *     refused — replaced by a short text saying so, with the finish reason turned into a normal stop.
 * Each removal and each refusal is one audit event (per extension per request for removals, so a
 * Goose turn with 30 tools of one extension is one event, not 30). A policy without an
 * `extensions` section (the standalone default) enforces nothing. Tools not shaped `<ext>__<tool>`
 * are not extension tools and pass.
 */
import type { JsonObject, JsonValue, RequestContext, SseEvent, Stage } from '../context.js';
import type { EffectivePolicy } from '../../policies/types.js';
import type { AuditStageDeps } from './audit.js';
import { extensionAllowlist, extensionOfTool, type ExtensionAllowlist } from '../../policies/extensions.js';

export interface ExtensionAllowlistDeps {
  /** Where removals and refusals are recorded (the gateway's audit spool). */
  audit: AuditStageDeps;
}

const compiled = new WeakMap<EffectivePolicy, ExtensionAllowlist | null>();

export function allowlistOf(policy: EffectivePolicy | undefined): ExtensionAllowlist | null {
  if (!policy) return null;
  let list = compiled.get(policy);
  if (list === undefined) {
    const section = policy.extensions as { allow?: unknown } | undefined;
    list = section && Array.isArray(section.allow) ? extensionAllowlist(section.allow.filter((x): x is string => typeof x === 'string')) : null;
    compiled.set(policy, list);
  }
  return list;
}

function refusalText(extension: string, role: string): string {
  return `[Switchboard] A call to the "${extension}" extension was refused: it is not allowed for role "${role}".`;
}

function record(deps: ExtensionAllowlistDeps, ctx: RequestContext, action: string, extension: string, reason: string): void {
  try {
    deps.audit.spool.enqueue(
      {
        ts: new Date().toISOString(),
        tenantId: ctx.caller?.tenantId ?? deps.audit.defaultTenantId,
        actor: ctx.caller ? { type: 'user', id: ctx.caller.userId, role: ctx.caller.role } : { type: 'anonymous', id: 'unauthenticated', role: null },
        action,
        target: extension,
        result: 'denied',
        reason,
        policyVersion: ctx.policy?.version ?? null,
        redactions: [],
        cost: { tokens: 0, usd: 0 },
        traceId: ctx.id,
      },
      deps.audit.onAppend,
    );
  } catch (err) {
    ctx.log.error({ err }, 'extensionAllowlist: could not spool the audit event');
  }
}

function toolName(tool: JsonValue, format: RequestContext['format']): string | undefined {
  if (!tool || typeof tool !== 'object' || Array.isArray(tool)) return undefined;
  if (format === 'anthropic') return typeof tool.name === 'string' ? tool.name : undefined;
  const fn = tool.function;
  return fn && typeof fn === 'object' && !Array.isArray(fn) && typeof fn.name === 'string' ? fn.name : undefined;
}

function filterTools(deps: ExtensionAllowlistDeps, ctx: RequestContext, list: ExtensionAllowlist): void {
  const body = ctx.body;
  const tools = body?.tools;
  if (!body || !Array.isArray(tools) || tools.length === 0) return;
  const removed = new Map<string, number>();
  const kept = tools.filter((tool) => {
    const ext = extensionOfTool(toolName(tool, ctx.format) ?? '');
    if (ext === undefined || list.allows(ext)) return true;
    removed.set(ext, (removed.get(ext) ?? 0) + 1);
    return false;
  });
  if (removed.size === 0) return;
  if (kept.length > 0) body.tools = kept;
  else {
    // An empty tools list is refused by some upstreams; no tools at all is what the model should see.
    delete body.tools;
    delete body.tool_choice;
  }
  const choice = body.tool_choice;
  if (choice && typeof choice === 'object' && !Array.isArray(choice)) {
    const chosen = toolName(choice, ctx.format);
    const ext = chosen ? extensionOfTool(chosen) : undefined;
    if (ext && !list.allows(ext)) delete body.tool_choice;
  }
  const role = ctx.caller?.role ?? 'unknown';
  for (const [ext, count] of removed) {
    record(deps, ctx, 'extension.tools_removed', ext, `${count} tool(s) of extension "${ext}" removed: not allowed for role ${role}`);
  }
}

/** OpenAI JSON answer: drops refused tool calls; returns whether the body changed. */
function refuseInOpenAiBody(body: JsonValue, refuse: (name: string) => string | undefined): boolean {
  const choices = body && typeof body === 'object' && !Array.isArray(body) ? body.choices : undefined;
  if (!Array.isArray(choices)) return false;
  let changed = false;
  for (const choice of choices) {
    if (!choice || typeof choice !== 'object' || Array.isArray(choice)) continue;
    const message = choice.message;
    if (!message || typeof message !== 'object' || Array.isArray(message) || !Array.isArray(message.tool_calls)) continue;
    const notes: string[] = [];
    const kept = message.tool_calls.filter((call) => {
      const note = refuse(toolName(call, 'openai') ?? '');
      if (note) notes.push(note);
      return !note;
    });
    if (notes.length === 0) continue;
    changed = true;
    if (kept.length > 0) message.tool_calls = kept;
    else {
      delete message.tool_calls;
      if (choice.finish_reason === 'tool_calls') choice.finish_reason = 'stop';
    }
    const text = typeof message.content === 'string' && message.content ? `${message.content}\n` : '';
    message.content = `${text}${notes.join('\n')}`;
  }
  return changed;
}

/** Anthropic JSON answer: refused tool_use blocks become text blocks. */
function refuseInAnthropicBody(body: JsonValue, refuse: (name: string) => string | undefined): boolean {
  if (!body || typeof body !== 'object' || Array.isArray(body) || !Array.isArray(body.content)) return false;
  let changed = false;
  let toolUseLeft = false;
  body.content = body.content.map((block) => {
    if (!block || typeof block !== 'object' || Array.isArray(block) || block.type !== 'tool_use') return block;
    const note = refuse(typeof block.name === 'string' ? block.name : '');
    if (!note) {
      toolUseLeft = true;
      return block;
    }
    changed = true;
    return { type: 'text', text: note };
  });
  if (changed && !toolUseLeft && body.stop_reason === 'tool_use') body.stop_reason = 'end_turn';
  return changed;
}

function parse(data: string): JsonObject | undefined {
  try {
    const v = JSON.parse(data) as JsonValue;
    return v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** OpenAI stream: refused tool calls are dropped by index; a note replaces them if none is left. */
async function* refuseInOpenAiSse(events: AsyncIterable<SseEvent>, refuse: (name: string) => string | undefined): AsyncGenerator<SseEvent> {
  // choice index → tool-call index → refused?
  const refused = new Map<number, Map<number, boolean>>();
  const notes = new Map<number, string[]>();
  const allowedSeen = new Set<number>();
  for await (const event of events) {
    const data = event.data;
    // Cheap test first: most chunks are text and pass untouched.
    if (!data || (!data.includes('"tool_calls"') && refused.size === 0)) {
      yield event;
      continue;
    }
    const chunk = parse(data);
    if (!chunk || !Array.isArray(chunk.choices)) {
      yield event;
      continue;
    }
    let changed = false;
    let empty = true;
    for (const choice of chunk.choices) {
      if (!choice || typeof choice !== 'object' || Array.isArray(choice)) continue;
      const ci = typeof choice.index === 'number' ? choice.index : 0;
      const delta = choice.delta;
      if (delta && typeof delta === 'object' && !Array.isArray(delta) && Array.isArray(delta.tool_calls)) {
        let byIndex = refused.get(ci);
        if (!byIndex) refused.set(ci, (byIndex = new Map()));
        const kept = delta.tool_calls.filter((call) => {
          if (!call || typeof call !== 'object' || Array.isArray(call)) return true;
          const ti = typeof call.index === 'number' ? call.index : 0;
          const name = toolName(call, 'openai');
          if (name !== undefined && !byIndex.has(ti)) {
            const note = refuse(name);
            byIndex.set(ti, Boolean(note));
            if (note) notes.set(ci, [...(notes.get(ci) ?? []), note]);
            else allowedSeen.add(ci);
          }
          return byIndex.get(ti) !== true;
        });
        if (kept.length !== delta.tool_calls.length) {
          changed = true;
          if (kept.length > 0) delta.tool_calls = kept;
          else delete delta.tool_calls;
        }
      }
      const pending = notes.get(ci);
      if (choice.finish_reason === 'tool_calls' && pending && !allowedSeen.has(ci)) {
        // Nothing callable is left: say why in text and end the turn normally.
        choice.finish_reason = 'stop';
        choice.delta = { ...(delta && typeof delta === 'object' && !Array.isArray(delta) ? delta : {}), content: pending.join('\n') };
        notes.delete(ci);
        changed = true;
      }
      const d = choice.delta;
      if (choice.finish_reason || (d && typeof d === 'object' && !Array.isArray(d) && Object.keys(d).length > 0)) empty = false;
    }
    if (!changed) yield event;
    else if (!empty || chunk.choices.length === 0 || chunk.usage) yield { ...event, data: JSON.stringify(chunk) };
  }
}

/** Anthropic stream: a refused tool_use block becomes a text block at the same index. */
async function* refuseInAnthropicSse(events: AsyncIterable<SseEvent>, refuse: (name: string) => string | undefined): AsyncGenerator<SseEvent> {
  const refusedBlocks = new Set<number>();
  let toolUseLeft = false;
  for await (const event of events) {
    const data = event.data;
    if (!data || (!data.includes('"tool_use"') && refusedBlocks.size === 0)) {
      yield event;
      continue;
    }
    const msg = parse(data);
    if (!msg) {
      yield event;
      continue;
    }
    const index = typeof msg.index === 'number' ? msg.index : -1;
    const block = msg.content_block;
    if (msg.type === 'content_block_start' && block && typeof block === 'object' && !Array.isArray(block) && block.type === 'tool_use') {
      const note = refuse(typeof block.name === 'string' ? block.name : '');
      if (!note) {
        toolUseLeft = true;
        yield event;
        continue;
      }
      refusedBlocks.add(index);
      yield { ...event, data: JSON.stringify({ type: 'content_block_start', index, content_block: { type: 'text', text: '' } }) };
      yield { event: 'content_block_delta', data: JSON.stringify({ type: 'content_block_delta', index, delta: { type: 'text_delta', text: note } }) };
      continue;
    }
    if (msg.type === 'content_block_delta' && refusedBlocks.has(index)) continue;
    const delta = msg.delta;
    if (msg.type === 'message_delta' && delta && typeof delta === 'object' && !Array.isArray(delta) && delta.stop_reason === 'tool_use' && refusedBlocks.size > 0 && !toolUseLeft) {
      delta.stop_reason = 'end_turn';
      yield { ...event, data: JSON.stringify(msg) };
      continue;
    }
    yield event;
  }
}

export function extensionAllowlistStages(deps: ExtensionAllowlistDeps): { filterTools: Stage; refuseCalls: Stage } {
  return {
    filterTools: {
      name: 'extensionAllowlist',
      phase: 'request',
      run(ctx) {
        if (ctx.route !== 'chat' && ctx.route !== 'messages') return;
        const list = allowlistOf(ctx.policy);
        if (list) filterTools(deps, ctx, list);
      },
    },
    refuseCalls: {
      name: 'extensionAllowlistAnswers',
      phase: 'response',
      run(ctx) {
        const response = ctx.response;
        if (!response || response.status < 200 || response.status >= 300) return;
        if (ctx.route !== 'chat' && ctx.route !== 'messages') return;
        const list = allowlistOf(ctx.policy);
        if (!list) return;
        const role = ctx.caller?.role ?? 'unknown';
        const refuse = (name: string): string | undefined => {
          const ext = extensionOfTool(name);
          if (ext === undefined || list.allows(ext)) return undefined;
          record(deps, ctx, 'extension.call_refused', ext, `model answered with a call to ${name}; extension "${ext}" not allowed for role ${role}`);
          return refusalText(ext, role);
        };
        if (response.kind === 'sse') {
          response.events = ctx.format === 'anthropic' ? refuseInAnthropicSse(response.events, refuse) : refuseInOpenAiSse(response.events, refuse);
        } else if (response.kind === 'json') {
          const changed = ctx.format === 'anthropic' ? refuseInAnthropicBody(response.body, refuse) : refuseInOpenAiBody(response.body, refuse);
          if (changed) {
            delete response.bytes;
            delete response.headers['content-length'];
          }
        }
      },
    },
  };
}
