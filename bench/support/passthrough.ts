/**
 * The physical floor: a minimal HTTP server that forwards every request to the upstream with
 * undici and streams the answer back. No parsing, no auth, no logging — whatever the gateway
 * costs on top of this is the gateway's overhead.
 */
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, stream } from 'undici';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'upgrade', 'te', 'trailer', 'proxy-connection']);

function endToEnd(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

export interface Passthrough {
  url: string;
  close(): Promise<void>;
}

/** Forwards `<url>/<path>` to `<upstreamOrigin>/<path>` unchanged. */
export async function startPassthrough(upstreamOrigin: string): Promise<Passthrough> {
  const agent = new Agent({ connections: 512, keepAliveTimeout: 30_000 });
  const server: Server = createServer((req, res) => {
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    stream(
      `${upstreamOrigin}${req.url ?? '/'}`,
      {
        method: (req.method ?? 'GET') as 'GET' | 'POST',
        headers: endToEnd(req.headers) as Record<string, string>,
        body: hasBody ? req : null,
        dispatcher: agent,
      },
      ({ statusCode, headers }) => {
        res.writeHead(statusCode, endToEnd(headers));
        return res;
      },
    ).catch(() => {
      if (!res.headersSent) res.writeHead(502);
      res.destroy();
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await agent.close();
    },
  };
}
