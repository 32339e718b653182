/**
 * A scripted stand-in for the Ollama HTTP API (this machine cannot run Ollama): /api/version,
 * /api/tags and a streamed /api/pull (NDJSON progress like the real server), which adds the model.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OllamaStandIn {
  host: string;
  models: Array<{ name: string; size: number }>;
  pulls: string[];
  close(): Promise<void>;
}

export async function startOllamaStandIn(initial: Array<{ name: string; size: number }> = []): Promise<OllamaStandIn> {
  const models = [...initial];
  const pulls: string[] = [];
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/api/version') return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version: '0.12.0' }));
      if (req.method === 'GET' && req.url === '/api/tags') {
        const now = new Date().toISOString();
        return void res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ models: models.map((m) => ({ name: m.name, model: m.name, modified_at: now, size: m.size, digest: 'sha256:0', details: {} })) }));
      }
      if (req.method === 'POST' && req.url === '/api/pull') {
        // The API takes `model` (newer) or `name` (what the npm client sends).
        const body = JSON.parse(raw) as { model?: string; name?: string };
        const model = body.model ?? body.name ?? '';
        pulls.push(model);
        res.writeHead(200, { 'content-type': 'application/x-ndjson' });
        if (model.startsWith('missing')) return void res.end(`${JSON.stringify({ error: 'pull model manifest: file does not exist' })}\n`);
        const total = 2_000_000_000;
        const lines = [{ status: 'pulling manifest' }, ...[0, 0.25, 0.5, 0.75, 1].map((f) => ({ status: 'pulling 6a0746a1ec1a', digest: 'sha256:6a07', total, completed: total * f })), { status: 'verifying sha256 digest' }, { status: 'writing manifest' }, { status: 'success' }];
        models.push({ name: model.includes(':') ? model : `${model}:latest`, size: total });
        return void res.end(lines.map((l) => JSON.stringify(l)).join('\n') + '\n');
      }
      res.writeHead(404).end('not found');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    models,
    pulls,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
