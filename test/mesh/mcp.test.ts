/** The Agent Mesh MCP server, driven by the official MCP SDK client over stdio and streamable HTTP. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { request as httpRequest } from 'node:http';
import { meshClientFactory } from '../../bin/commands/mesh.js';
import { MeshClient } from '../../mesh/client.js';
import { createMeshMcpServer, parseDeadline } from '../../mesh/mcp-server.js';
import { serveMeshMcpHttp, type MeshMcpHttp } from '../../mesh/mcp-http.js';
import { registerAgent, startMeshController, type MeshTestController } from './support.js';

const CLI = ['--import', 'tsx', 'bin/switchboard.ts'];
const TOOLS = ['fetch_status', 'notify', 'request_approval', 'send_task'];
const text = (r: unknown) => ((r as CallToolResult).content[0] as { text: string }).text;

describe('mesh MCP server', () => {
  it('over stdio lists its tools without a controller and explains what is missing on a call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-meshmcp-'));
    const client = new Client({ name: 'test', version: '1' });
    try {
      const env = { ...process.env } as Record<string, string>;
      delete env.SWITCHBOARD_CONTROLLER_URL;
      delete env.SWITCHBOARD_AGENT_TOKEN;
      await client.connect(new StdioClientTransport({ command: process.execPath, args: [...CLI, 'mesh', 'mcp', '--data-dir', dir], cwd: process.cwd(), env, stderr: 'pipe' }));
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), TOOLS);
      for (const t of tools) assert.ok((t.description ?? '').length > 80, `${t.name} has a description a model can act on`);
      const res = await client.callTool({ name: 'send_task', arguments: { target: 'finance', task: 'Check the budget' } });
      assert.equal(res.isError, true);
      assert.match(text(res), /send_task cannot run yet: no controller is configured.*--controller/);

      // With a controller URL but no token: the call names the token problem (same factory, in-process).
      const server = createMeshMcpServer({ client: meshClientFactory({ dataDir: dir, controller: 'http://127.0.0.1:9' }, {}), version: 'test' });
      const [a, b] = InMemoryTransport.createLinkedPair();
      const c2 = new Client({ name: 'test', version: '1' });
      await server.connect(a);
      await c2.connect(b);
      const noToken = await c2.callTool({ name: 'fetch_status', arguments: { id: 'task-1' } });
      assert.equal(noToken.isError, true);
      assert.match(text(noToken), /no agent token for http:\/\/127\.0\.0\.1:9.*SWITCHBOARD_AGENT_TOKEN/);
      await c2.close();
    } finally {
      await client.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses deadlines given as ISO times or durations', () => {
    assert.deepEqual(parseDeadline('30m'), { deadlineSeconds: 1800 });
    assert.deepEqual(parseDeadline('2d'), { deadlineSeconds: 172800 });
    assert.deepEqual(parseDeadline('2026-12-01T17:00:00Z'), { deadline: '2026-12-01T17:00:00.000Z' });
    assert.equal(parseDeadline('soon'), undefined);
  });

  describe('over streamable HTTP against a live controller', () => {
    let c: MeshTestController;
    let controllerUrl: string;
    let mcp: MeshMcpHttp;
    let client: Client;
    before(async () => {
      c = await startMeshController('sqlite');
      controllerUrl = await c.app.listen({ host: '127.0.0.1', port: 0 });
      await registerAgent(c, 'mia', 'mia-goose');
      await registerAgent(c, 'ana', 'ana-goose');
      const token = await c.token('mia', ['marketing']);
      mcp = await serveMeshMcpHttp(() => createMeshMcpServer({ client: () => new MeshClient({ url: controllerUrl, token: () => token }), agentId: 'mia-goose', version: 'test' }));
      client = new Client({ name: 'test', version: '1' });
      await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url)));
    });
    after(async () => {
      await client.close();
      await mcp.close();
      await c.close();
    });

    it('sends a task, notifies, requests an approval and fetches each status', async () => {
      const sent = await client.callTool({ name: 'send_task', arguments: { target: 'finance', task: 'Review the invoice\nline two', context: 'about Maria Schmidt', messageId: 'm-42' } });
      assert.equal(sent.isError, undefined, text(sent));
      const taskId = (sent.structuredContent as { taskId: string }).taskId;
      assert.match(taskId, /^task-/);
      const again = await client.callTool({ name: 'send_task', arguments: { target: 'finance', task: 'Review the invoice\nline two', messageId: 'm-42' } });
      assert.equal((again.structuredContent as { taskId: string }).taskId, taskId, 'same messageId, same task');
      const [item] = (await c.call('ana', 'GET', '/api/v1/agents/ana-goose/work?waitMs=0')).json().items;
      assert.equal(item.task.title, 'Review the invoice');
      assert.equal(item.from.agentId, 'mia-goose');
      await c.call('ana', 'POST', `/api/v1/tasks/${taskId}/result`, { leaseId: item.leaseId, state: 'completed', message: 'looks fine' });

      const status = await client.callTool({ name: 'fetch_status', arguments: { id: taskId } });
      assert.match(text(status), new RegExp(`Task ${taskId} is completed\\. ana-goose \\(finance\\): completed — looks fine`));

      const note = await client.callTool({ name: 'notify', arguments: { target: 'ana', message: 'thanks', severity: 'info' } });
      assert.deepEqual((note.structuredContent as { recipients: string[] }).recipients, ['ana-goose']);

      const appr = await client.callTool({ name: 'request_approval', arguments: { target: 'finance', stepId: 'budget', payload: { amountUsd: 500 }, deadline: '1h' } });
      assert.equal(appr.isError, undefined, text(appr));
      const a = appr.structuredContent as { approvalId: string; status: string; approver: string };
      assert.equal(a.status, 'pending');
      assert.equal(a.approver, 'ana');
      const st = await client.callTool({ name: 'fetch_status', arguments: { id: a.approvalId } });
      assert.match(text(st), /is requested\. Waiting for ana/);
    });

    it('turns controller refusals into instructions for the model', async () => {
      const unknown = await client.callTool({ name: 'send_task', arguments: { target: 'pirates', task: 'x' } });
      assert.equal(unknown.isError, true);
      assert.match(text(unknown), /send_task failed: "pirates" is not a registered agent id.*Check the target/);
      const blocked = await client.callTool({ name: 'send_task', arguments: { target: 'finance', task: 'pay', context: 'IBAN DE89 3704 0044 0532 0130 00' } });
      assert.match(text(blocked), /send_task was refused: the Privacy Guard policy of role finance blocks IBAN/);
      const badId = await client.callTool({ name: 'fetch_status', arguments: { id: 'whatever' } });
      assert.match(text(badId), /not a taskId \(task-…\), approvalId \(apr-…\) or sessionId/);
      const badDeadline = await client.callTool({ name: 'request_approval', arguments: { target: 'finance', stepId: 's', payload: 'x', deadline: 'soon' } });
      assert.match(text(badDeadline), /deadline "soon" is neither/);
    });

    it('refuses non-loopback Host headers', async () => {
      const u = new URL(mcp.url);
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest({ host: u.hostname, port: u.port, path: u.pathname, method: 'POST', headers: { host: 'evil.example', 'content-type': 'application/json' } }, (r) => {
          r.resume();
          resolve(r.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end('{}');
      });
      const res = { status };
      assert.equal(res.status, 403);
    });
  });
});
