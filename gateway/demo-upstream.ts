/**
 * An offline stand-in upstream for `switchboard up` when no cloud key is configured. It answers
 * every chat/messages call by showing what the model would have received (after the Privacy
 * Guard), so a first run demonstrates the gateway with nothing but this machine.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export const DEMO_MODEL = 'switchboard/demo-echo';

function lastUserText(body: { messages?: Array<{ role?: string; content?: unknown }> }): string {
  const msgs = body.messages ?? [];
  for (let i = msgs.length - 1; i >= 0; i--) {
    const m = msgs[i]!;
    if (m.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) {
      return m.content
        .map((p: { type?: string; text?: string }) => (p.type === 'text' && typeof p.text === 'string' ? p.text : ''))
        .join(' ');
    }
  }
  return '';
}

function answerText(body: object): string {
  return `[demo upstream: no cloud key configured] The model received: ${lastUserText(body as never)}`;
}

/**
 * The gateway re-identifies pseudonyms in the answer, so the answer text shows real values again.
 * This header (passed through untouched) shows the text as the model really received it.
 */
export const DEMO_RECEIVED_HEADER = 'x-switchboard-demo-received';

function receivedHeader(body: object): Record<string, string> {
  // A JSON string with non-ASCII escaped: header-safe, and readable.
  const text = JSON.stringify(lastUserText(body as never).slice(0, 2000)).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return { [DEMO_RECEIVED_HEADER]: text };
}

function sendOpenAi(res: ServerResponse, body: { model?: string; stream?: boolean }, text: string) {
  const model = body.model ?? DEMO_MODEL;
  const usage = { prompt_tokens: Math.ceil(text.length / 4), completion_tokens: Math.ceil(text.length / 4), total_tokens: Math.ceil(text.length / 2) };
  if (!body.stream) {
    res.writeHead(200, { 'content-type': 'application/json', ...receivedHeader(body) });
    res.end(JSON.stringify({ id: 'chatcmpl-demo', object: 'chat.completion', created: Math.floor(Date.now() / 1000), model, choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }], usage }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...receivedHeader(body) });
  const chunk = (delta: object, finish: string | null) => `data: ${JSON.stringify({ id: 'chatcmpl-demo', object: 'chat.completion.chunk', created: Math.floor(Date.now() / 1000), model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  res.write(chunk({ role: 'assistant', content: '' }, null));
  for (const word of text.split(/(?<= )/)) res.write(chunk({ content: word }, null));
  res.write(chunk({}, 'stop'));
  res.write(`data: ${JSON.stringify({ id: 'chatcmpl-demo', object: 'chat.completion.chunk', model, choices: [], usage })}\n\n`);
  res.end('data: [DONE]\n\n');
}

function sendAnthropic(res: ServerResponse, body: { model?: string }, text: string) {
  res.writeHead(200, { 'content-type': 'application/json', ...receivedHeader(body) });
  res.end(JSON.stringify({ id: 'msg_demo', type: 'message', role: 'assistant', model: body.model ?? DEMO_MODEL, content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null, usage: { input_tokens: 1, output_tokens: 1 } }));
}

export async function startDemoUpstream(): Promise<{ baseUrl: string; close(): Promise<void> }> {
  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = (req.url ?? '').split('?')[0] ?? '';
    let body: { model?: string; stream?: boolean } = {};
    try {
      body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
    } catch {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'invalid JSON', type: 'invalid_request_error' } }));
      return;
    }
    if (path.endsWith('/models')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: DEMO_MODEL, object: 'model', context_length: 32768 }] }));
    } else if (path.endsWith('/messages')) sendAnthropic(res, body, answerText(body));
    else if (path.endsWith('/chat/completions')) sendOpenAi(res, body, answerText(body));
    else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `demo upstream has no ${path}`, type: 'not_found' } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
