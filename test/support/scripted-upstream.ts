/**
 * A scripted OpenAI-/Anthropic-compatible upstream for tests (chat completions, messages, Responses
 * API, embeddings, models): queue replies (JSON, SSE streams with
 * tool-call fragments and usage, 429 with Retry-After, 5xx, mid-stream cuts, slow drips, hangs),
 * and inspect what it received. Unscripted calls get a default reply shaped like the real APIs.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type ScriptedEvent = { event?: string; data: string } | { comment: string };

export type ScriptedReply =
  | { kind: 'json'; status?: number; body: unknown; headers?: Record<string, string> }
  | {
      kind: 'sse';
      events: ScriptedEvent[];
      status?: number;
      headers?: Record<string, string>;
      /** Wait before each event (slow drip). */
      delayMs?: number;
      /** Destroy the connection after this many events (mid-stream cut). */
      cutAfter?: number;
      /** Awaited before event `index` is written: lets a test hold the stream at a known point. */
      beforeEvent?: (index: number) => Promise<void> | void;
    }
  /** Close the socket without answering (connection reset before any byte). */
  | { kind: 'destroy' }
  /** Accept and never answer. */
  | { kind: 'hang' };

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
  /** Raw body text as received. */
  raw: string;
  /** Date.now() when the request line arrived (compare with Retry-After dates). */
  at: number;
}

/** Progress of one SSE reply, updated live (the writer honours backpressure like a real server). */
export interface StreamProgress {
  total: number;
  eventsWritten: number;
  bytesWritten: number;
  /** Times the writer had to wait for the reader to drain the socket. */
  drainWaits: number;
  /** Wrote every event and ended the response. */
  ended: boolean;
  /** The peer closed the connection before the end. */
  closedByPeer: boolean;
}

export interface ScriptedUpstreamOptions {
  /** Keep connections open between requests (default true). False sends `Connection: close`,
   *  so openConnections() returning to 0 proves nothing hangs. */
  keepAlive?: boolean;
}

export interface ScriptedUpstream {
  /** Base URL including /v1, e.g. http://127.0.0.1:4321/v1 */
  baseUrl: string;
  received: ReceivedRequest[];
  /** Queue replies, consumed in order by the next calls. */
  enqueue(...replies: ScriptedReply[]): void;
  /** Reply used when the queue is empty (default: a shape matching the route). */
  setDefault(reply: ((req: ReceivedRequest) => ScriptedReply) | undefined): void;
  /** Number of connections currently open (to check nothing hangs). */
  openConnections(): number;
  /** One entry per SSE reply served, in order. */
  streams: StreamProgress[];
  close(): Promise<void>;
}

export const DEFAULT_MODELS = ['anthropic/claude-sonnet-4', 'google/gemini-2.5-flash', 'openai/gpt-4o-mini'];

// ---- recorded shapes -------------------------------------------------------------------------

export interface ToolCallSpec {
  id: string;
  name: string;
  /** JSON arguments, split into these fragments when streamed. */
  argumentFragments: string[];
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  [k: string]: unknown;
}

export function openAiCompletion(opts: { model?: string; content?: string | null; toolCalls?: ToolCallSpec[]; usage?: Usage; id?: string }) {
  const toolCalls = opts.toolCalls?.map((t) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.argumentFragments.join('') } }));
  return {
    id: opts.id ?? 'chatcmpl-scripted-1',
    object: 'chat.completion',
    created: 1764000000,
    model: opts.model ?? 'anthropic/claude-sonnet-4',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: opts.content ?? null, ...(toolCalls ? { tool_calls: toolCalls } : {}) },
        finish_reason: toolCalls ? 'tool_calls' : 'stop',
      },
    ],
    usage: opts.usage ?? { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 },
  };
}

/** OpenAI chat.completion.chunk stream: role, content pieces, tool-call fragments, finish, usage, [DONE]. */
export function openAiStream(opts: { model?: string; contentPieces?: string[]; toolCalls?: ToolCallSpec[]; usage?: Usage | null; id?: string }): ScriptedEvent[] {
  const id = opts.id ?? 'chatcmpl-scripted-stream';
  const model = opts.model ?? 'anthropic/claude-sonnet-4';
  const chunk = (delta: object, finish: string | null = null) =>
    JSON.stringify({ id, object: 'chat.completion.chunk', created: 1764000000, model, choices: [{ index: 0, delta, finish_reason: finish }] });
  const events: ScriptedEvent[] = [{ data: chunk({ role: 'assistant', content: '' }) }];
  for (const piece of opts.contentPieces ?? []) events.push({ data: chunk({ content: piece }) });
  (opts.toolCalls ?? []).forEach((t, index) => {
    events.push({ data: chunk({ tool_calls: [{ index, id: t.id, type: 'function', function: { name: t.name, arguments: '' } }] }) });
    for (const frag of t.argumentFragments) events.push({ data: chunk({ tool_calls: [{ index, function: { arguments: frag } }] }) });
  });
  events.push({ data: chunk({}, opts.toolCalls?.length ? 'tool_calls' : 'stop') });
  if (opts.usage !== null) {
    const usage = opts.usage ?? { prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 };
    events.push({ data: JSON.stringify({ id, object: 'chat.completion.chunk', created: 1764000000, model, choices: [], usage }) });
  }
  events.push({ data: '[DONE]' });
  return events;
}

export function anthropicMessage(opts: { model?: string; text?: string; toolUse?: { id: string; name: string; input: unknown }; usage?: { input_tokens: number; output_tokens: number } }) {
  const content: unknown[] = [];
  if (opts.text !== undefined) content.push({ type: 'text', text: opts.text });
  if (opts.toolUse) content.push({ type: 'tool_use', id: opts.toolUse.id, name: opts.toolUse.name, input: opts.toolUse.input });
  return {
    id: 'msg_scripted_1',
    type: 'message',
    role: 'assistant',
    model: opts.model ?? 'anthropic/claude-sonnet-4',
    content,
    stop_reason: opts.toolUse ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: opts.usage ?? { input_tokens: 12, output_tokens: 5 },
  };
}

/** Anthropic Messages stream: message_start, text and/or tool_use blocks with input_json_delta, message_delta, message_stop. */
export function anthropicStream(opts: { model?: string; textPieces?: string[]; toolUse?: { id: string; name: string; jsonFragments: string[] }; usage?: { input_tokens: number; output_tokens: number } }): ScriptedEvent[] {
  const usage = opts.usage ?? { input_tokens: 12, output_tokens: 5 };
  const ev = (event: string, data: object): ScriptedEvent => ({ event, data: JSON.stringify({ type: event, ...data }) });
  const events: ScriptedEvent[] = [
    ev('message_start', { message: { id: 'msg_scripted_stream', type: 'message', role: 'assistant', model: opts.model ?? 'anthropic/claude-sonnet-4', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: usage.input_tokens, output_tokens: 1 } } }),
  ];
  let index = 0;
  if (opts.textPieces) {
    events.push(ev('content_block_start', { index, content_block: { type: 'text', text: '' } }));
    for (const t of opts.textPieces) events.push(ev('content_block_delta', { index, delta: { type: 'text_delta', text: t } }));
    events.push(ev('content_block_stop', { index }));
    index++;
  }
  if (opts.toolUse) {
    events.push(ev('content_block_start', { index, content_block: { type: 'tool_use', id: opts.toolUse.id, name: opts.toolUse.name, input: {} } }));
    for (const f of opts.toolUse.jsonFragments) events.push(ev('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: f } }));
    events.push(ev('content_block_stop', { index }));
  }
  events.push(ev('message_delta', { delta: { stop_reason: opts.toolUse ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: usage.output_tokens } }));
  events.push(ev('message_stop', {}));
  return events;
}

/** Responses API usage, as OpenAI reports it. */
export interface ResponsesUsage {
  input_tokens: number;
  output_tokens: number;
  total_tokens: number;
  [k: string]: unknown;
}

export interface ResponseSpec {
  model?: string;
  /** Output message text, split into these deltas when streamed. */
  textPieces?: string[];
  /** Function calls, their arguments split into these deltas when streamed. */
  functionCalls?: ToolCallSpec[];
  usage?: ResponsesUsage;
  instructions?: string | null;
}

function responsesUsage(u?: ResponsesUsage) {
  const usage = u ?? { input_tokens: 12, output_tokens: 5, total_tokens: 17 };
  return { input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 }, ...usage };
}

function responseOutput(spec: ResponseSpec, done: boolean) {
  const output: Array<Record<string, unknown>> = [];
  if (spec.textPieces) {
    output.push({
      id: 'msg_scripted_1', type: 'message', status: done ? 'completed' : 'in_progress', role: 'assistant',
      content: done ? [{ type: 'output_text', annotations: [], logprobs: [], text: spec.textPieces.join('') }] : [],
    });
  }
  (spec.functionCalls ?? []).forEach((c, i) => {
    output.push({ id: `fc_scripted_${i}`, type: 'function_call', status: done ? 'completed' : 'in_progress', arguments: done ? c.argumentFragments.join('') : '', call_id: c.id, name: c.name });
  });
  return output;
}

/** A Responses API `response` object, shaped as OpenAI's (store: false). */
export function openAiResponse(spec: ResponseSpec, status: 'completed' | 'in_progress' = 'completed') {
  const done = status === 'completed';
  return {
    id: 'resp_scripted_1', object: 'response', created_at: 1764000000, status, background: false, error: null, incomplete_details: null,
    instructions: spec.instructions ?? null, max_output_tokens: null, model: spec.model ?? 'openai/gpt-4o-mini',
    output: done ? responseOutput(spec, true) : [], parallel_tool_calls: true, previous_response_id: null,
    reasoning: { effort: null, summary: null }, store: false, temperature: 1, text: { format: { type: 'text' }, verbosity: 'medium' },
    tool_choice: 'auto', tools: [], top_p: 1, truncation: 'disabled', usage: done ? responsesUsage(spec.usage) : null, user: null, metadata: {},
  };
}

/**
 * A Responses API stream as OpenAI sends it: created, in_progress, then per output item
 * output_item.added, (content_part.added, output_text.delta…, output_text.done, content_part.done)
 * or (function_call_arguments.delta…, .done), output_item.done; finally response.completed with usage.
 */
export function openAiResponseStream(spec: ResponseSpec): ScriptedEvent[] {
  let seq = 0;
  const ev = (type: string, data: object): ScriptedEvent => ({ event: type, data: JSON.stringify({ type, sequence_number: seq++, ...data }) });
  const events: ScriptedEvent[] = [ev('response.created', { response: openAiResponse(spec, 'in_progress') }), ev('response.in_progress', { response: openAiResponse(spec, 'in_progress') })];
  const finals = responseOutput(spec, true);
  const starts = responseOutput(spec, false);
  let outputIndex = 0;
  if (spec.textPieces) {
    const itemId = 'msg_scripted_1';
    const text = spec.textPieces.join('');
    events.push(ev('response.output_item.added', { output_index: outputIndex, item: starts[outputIndex] }));
    events.push(ev('response.content_part.added', { item_id: itemId, output_index: outputIndex, content_index: 0, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } }));
    for (const delta of spec.textPieces) events.push(ev('response.output_text.delta', { item_id: itemId, output_index: outputIndex, content_index: 0, delta, logprobs: [] }));
    events.push(ev('response.output_text.done', { item_id: itemId, output_index: outputIndex, content_index: 0, text, logprobs: [] }));
    events.push(ev('response.content_part.done', { item_id: itemId, output_index: outputIndex, content_index: 0, part: { type: 'output_text', annotations: [], logprobs: [], text } }));
    events.push(ev('response.output_item.done', { output_index: outputIndex, item: finals[outputIndex] }));
    outputIndex++;
  }
  for (const call of spec.functionCalls ?? []) {
    const item = finals[outputIndex]!;
    events.push(ev('response.output_item.added', { output_index: outputIndex, item: starts[outputIndex] }));
    for (const delta of call.argumentFragments) events.push(ev('response.function_call_arguments.delta', { item_id: item['id'], output_index: outputIndex, delta }));
    events.push(ev('response.function_call_arguments.done', { item_id: item['id'], output_index: outputIndex, name: call.name, arguments: call.argumentFragments.join('') }));
    events.push(ev('response.output_item.done', { output_index: outputIndex, item }));
    outputIndex++;
  }
  events.push(ev('response.completed', { response: openAiResponse(spec, 'completed') }));
  return events;
}

export function errorReply(status: number, message: string, headers: Record<string, string> = {}): ScriptedReply {
  return { kind: 'json', status, headers, body: { error: { message, type: 'upstream_error', code: status } } };
}

function defaultReplyFor(req: ReceivedRequest): ScriptedReply {
  const body = (req.body ?? {}) as { stream?: boolean; model?: string };
  if (req.path.endsWith('/models')) {
    return { kind: 'json', body: { object: 'list', data: DEFAULT_MODELS.map((id) => ({ id, object: 'model', context_length: 200000 })) } };
  }
  if (req.path.endsWith('/embeddings')) {
    return { kind: 'json', body: { object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2, 0.3] }], model: body.model, usage: { prompt_tokens: 3, total_tokens: 3 } } };
  }
  if (req.path.endsWith('/responses')) {
    return body.stream
      ? { kind: 'sse', events: openAiResponseStream({ model: body.model, textPieces: ['Hello', ' from', ' upstream'] }) }
      : { kind: 'json', body: openAiResponse({ model: body.model, textPieces: ['Hello from upstream'] }) };
  }
  if (req.path.endsWith('/messages')) {
    return body.stream
      ? { kind: 'sse', events: anthropicStream({ model: body.model, textPieces: ['Hello', ' from', ' upstream'] }) }
      : { kind: 'json', body: anthropicMessage({ model: body.model, text: 'Hello from upstream' }) };
  }
  return body.stream
    ? { kind: 'sse', events: openAiStream({ model: body.model, contentPieces: ['Hello', ' from', ' upstream'] }) }
    : { kind: 'json', body: openAiCompletion({ model: body.model, content: 'Hello from upstream' }) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startScriptedUpstream(opts: ScriptedUpstreamOptions = {}): Promise<ScriptedUpstream> {
  const queue: ScriptedReply[] = [];
  const received: ReceivedRequest[] = [];
  const streams: StreamProgress[] = [];
  const connectionHeader: Record<string, string> = opts.keepAlive === false ? { connection: 'close' } : {};
  const sockets = new Set<Socket>();
  let fallback: ((req: ReceivedRequest) => ScriptedReply) | undefined;

  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const at = Date.now();
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = undefined;
    }
    const record: ReceivedRequest = { method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0]!, headers: req.headers, body, raw, at };
    received.push(record);
    const reply = queue.shift() ?? (fallback ?? defaultReplyFor)(record);
    await serve(reply, res);
  });

  async function serve(reply: ScriptedReply, res: ServerResponse) {
    switch (reply.kind) {
      case 'json': {
        const text = JSON.stringify(reply.body);
        res.writeHead(reply.status ?? 200, { 'content-type': 'application/json', ...connectionHeader, ...reply.headers });
        res.end(text);
        return;
      }
      case 'destroy':
        res.socket?.destroy();
        return;
      case 'hang':
        return;
      case 'sse': {
        const progress: StreamProgress = { total: reply.events.length, eventsWritten: 0, bytesWritten: 0, drainWaits: 0, ended: false, closedByPeer: false };
        streams.push(progress);
        let cutting = false;
        res.on('close', () => {
          if (!progress.ended && !cutting) progress.closedByPeer = true;
        });
        res.writeHead(reply.status ?? 200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...connectionHeader, ...reply.headers });
        res.flushHeaders();
        for (const [index, e] of reply.events.entries()) {
          if (reply.delayMs) await sleep(reply.delayMs);
          if (reply.beforeEvent) await reply.beforeEvent(index);
          if (reply.cutAfter !== undefined && index >= reply.cutAfter) {
            cutting = true;
            res.socket?.destroy();
            return;
          }
          if (res.destroyed) return;
          const frame = 'comment' in e ? `:${e.comment}\n\n` : `${e.event ? `event: ${e.event}\n` : ''}data: ${e.data}\n\n`;
          const flushed = res.write(frame);
          progress.eventsWritten++;
          progress.bytesWritten += Buffer.byteLength(frame);
          if (!flushed) {
            progress.drainWaits++;
            await new Promise<void>((resolve) => {
              const done = () => {
                res.off('drain', done);
                res.off('close', done);
                resolve();
              };
              res.on('drain', done);
              res.on('close', done);
            });
          }
        }
        if (res.destroyed) return;
        progress.ended = true;
        res.end();
        return;
      }
    }
  }

  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    received,
    enqueue: (...replies) => queue.push(...replies),
    setDefault: (r) => {
      fallback = r;
    },
    openConnections: () => sockets.size,
    streams,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
