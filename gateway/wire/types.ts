/**
 * The wire map's contract: where text lives in a request, a response and a stream event of one
 * wire format. Masking (guard/mask-request.ts) and re-identification (guard/reidentify*.ts) both
 * walk bodies through it, so the two directions always cover the same fields.
 *
 * A format module (gateway/wire/<format>/) has the same files in each folder:
 *   request.ts  — text fields of a request body
 *   response.ts — text fields of a non-stream response body
 *   stream.ts   — text fragments, channel ends and whole values of one stream event
 *   index.ts    — the WireMap object tying them together
 */
import type { JsonObject, JsonValue, SseEvent } from '../context.js';

/** Names of the wire formats the gateway speaks. */
export type WireFormatName = 'openai-chat' | 'anthropic-messages' | 'openai-responses' | 'embeddings';

/**
 * What kind of value sits in a field:
 * - `text`: free text (a string);
 * - `json-string`: a string holding a JSON document (tool-call arguments);
 * - `json`: a JSON value (Anthropic tool_use input): its string and number leaves carry text;
 * - `schema`: a developer JSON Schema: only its prose (description, title, enum, examples,
 *   default, const) carries text; property names and structure stay as they are.
 */
export type FieldKind = 'text' | 'json-string' | 'json' | 'schema';

/** One text-bearing field: `holder[key]`, of `kind`. */
export interface TextField {
  holder: JsonObject | JsonValue[];
  key: string | number;
  kind: FieldKind;
  /** Where it is, for block messages: `messages[2].content[0].text`. Never the value. */
  path: string;
  /** Index of the message (or input item) the field belongs to, when there is one. */
  messageIndex?: number;
  /** For tool-call arguments/input: the tool's name (its parameter schema types the JSON). */
  tool?: string;
}

export type FieldVisitor = (field: TextField) => void;

/** A tool's parameter schema, as declared in the request. */
export interface ToolSchema {
  schema: JsonValue | undefined;
  /** The definition asks the upstream to enforce the schema exactly (OpenAI `strict`, Anthropic `strict`). */
  strict: boolean;
}

/** A piece of a longer text that arrives over several events of a stream. */
export interface StreamFragment {
  holder: JsonObject;
  key: string;
  /** The logical text it belongs to, e.g. `0:content`, `0:tool:1`, `msg_1:0:text`. */
  channel: string;
  /** The text is JSON source (argument fragments): restored values are JSON-escaped. */
  json: boolean;
}

/** The text-bearing parts of one stream event. */
export interface StreamEventFields {
  fragments: StreamFragment[];
  /**
   * Channel prefixes that end at this event (`''` = every channel): text still held back for
   * them goes out before this event.
   */
  ends?: string[];
  /**
   * Channels whose held text (and this event's fragment of them) must go out as an event of its
   * own ahead of this one — OpenAI content before the first tool-call delta, because Goose drops
   * content that shares a chunk with tool_calls.
   */
  releaseBefore?: string[];
  /** Complete values in this event (an output item, a `*.done` text), re-identified whole. */
  whole: TextField[];
}

export interface StreamMap {
  /** The text-bearing parts of one parsed event payload; undefined when it carries none. */
  fields(payload: JsonObject, event: string | undefined): StreamEventFields | undefined;
  /** An event carrying `text` for `channel`; `last` is the latest payload that had a fragment of it. */
  fragmentEvent(channel: string, text: string, last: JsonObject): SseEvent;
  /** True for an event that ends the stream without a payload (OpenAI `data: [DONE]`). */
  isTerminal?(data: string): boolean;
}

export interface WireMap {
  readonly format: WireFormatName;
  /** Visits every text-bearing field of a request body. */
  requestFields(body: JsonObject, visit: FieldVisitor): void;
  /** Tool parameter schemas declared in the request, by tool name. */
  toolSchemas(body: JsonObject): Map<string, ToolSchema>;
  /** Visits every text-bearing field of a non-stream response body. */
  responseFields(body: JsonValue, visit: FieldVisitor): void;
  /** Stream events; undefined when the format has no stream (embeddings). */
  readonly stream?: StreamMap;
}
