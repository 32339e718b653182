/**
 * Recognises what kind of task a request is, so rules can treat Goose's own auxiliary calls
 * (compaction, session naming, permission judging) differently from agent turns.
 *
 * Order: the `x-switchboard-task-kind` header wins; otherwise the request body is compared
 * with the fingerprints of Goose's auxiliary requests (docs/cost.md, "Downshift rules"):
 * - compaction: no tools, and the only non-system message is the user text
 *   "Please summarize the conversation history provided in the system prompt."
 * - title: no tools, and the system prompt is Goose's session_name prompt
 *   ("Generate a short title (four words or less) …")
 * - permission: exactly one tool, named `platform__tool_by_tool_permission`
 * - auxiliary: any other request without tools that carries Goose's `agent-session-id`
 * - chat: everything else.
 * The checks stop after the second non-system message and only compare message prefixes,
 * so their cost does not grow with the conversation.
 */
import type { JsonObject, JsonValue, RequestContext } from '../context.js';

export const TASK_KIND_HEADER = 'x-switchboard-task-kind';

const COMPACTION_PROMPT = 'Please summarize the conversation history provided in the system prompt.';
const SESSION_NAME_PREFIX = 'Generate a short title (four words or less)';
const PERMISSION_TOOL = 'platform__tool_by_tool_permission';
const HEADER_KIND = /^[a-z][a-z0-9_-]{0,31}$/;

type Headers = RequestContext['headers'];

function firstHeader(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Text of a message's content: a string, or the first text part of an array of parts. */
function leadingText(content: JsonValue | undefined): string | undefined {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    for (const part of content) {
      if (part && typeof part === 'object' && !Array.isArray(part) && typeof part.text === 'string') return part.text;
    }
  }
  return undefined;
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Tool name in either wire format: OpenAI `{function:{name}}` or Anthropic `{name}`. */
function toolName(tool: JsonValue): string | undefined {
  if (!isObject(tool)) return undefined;
  if (isObject(tool.function) && typeof tool.function.name === 'string') return tool.function.name;
  return typeof tool.name === 'string' ? tool.name : undefined;
}

/** System prompt text: OpenAI keeps it as the first message (system/developer), Anthropic top-level. */
function systemText(body: JsonObject, messages: JsonValue[]): string | undefined {
  if (body.system !== undefined) return leadingText(body.system);
  const first = messages[0];
  if (isObject(first) && (first.role === 'system' || first.role === 'developer')) return leadingText(first.content);
  return undefined;
}

/** The single non-system message, or undefined when there are none or several. */
function soleTurn(messages: JsonValue[]): JsonObject | undefined {
  let found: JsonObject | undefined;
  for (const m of messages) {
    if (!isObject(m) || m.role === 'system' || m.role === 'developer') continue;
    if (found) return undefined;
    found = m;
  }
  return found;
}

/** The header-given kind, when present and well-formed (lower-case word, ≤ 32 chars). */
export function headerTaskKind(headers: Headers): string | undefined {
  const raw = firstHeader(headers, TASK_KIND_HEADER)?.trim().toLowerCase();
  return raw && HEADER_KIND.test(raw) ? raw : undefined;
}

export function classifyTaskKind(body: JsonObject | undefined, headers: Headers): string {
  const fromHeader = headerTaskKind(headers);
  if (fromHeader) return fromHeader;
  if (!body) return 'chat';
  const tools = Array.isArray(body.tools) ? body.tools : [];
  if (tools.length === 1 && toolName(tools[0] as JsonValue) === PERMISSION_TOOL) return 'permission';
  if (tools.length > 0) return 'chat';

  const messages = Array.isArray(body.messages) ? body.messages : [];
  const only = soleTurn(messages);
  if (only?.role === 'user' && leadingText(only.content)?.trim() === COMPACTION_PROMPT) return 'compaction';
  if (systemText(body, messages)?.trimStart().startsWith(SESSION_NAME_PREFIX)) return 'title';
  if (firstHeader(headers, 'agent-session-id')) return 'auxiliary';
  return 'chat';
}
