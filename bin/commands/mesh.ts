/**
 * `switchboard mesh mcp`: the Agent Mesh MCP server (send_task, request_approval, notify,
 * fetch_status) on stdio, or over streamable HTTP on loopback with --http. It starts and lists
 * its tools even when the controller URL or token is missing; tool calls then say what to fix.
 */
import type { Command } from 'commander';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { addDataDirOption, loadContext, parsePort, parseUrl, type CommonOptions } from '../cli-support.js';
import { controllerTokenProvider } from '../../gateway/bundles/controller-link.js';
import { resolveControllerLink } from '../../gateway/bundles/controller-link-config.js';
import { MeshClient } from '../../mesh/client.js';
import { createMeshMcpServer, MeshSetupError } from '../../mesh/mcp-server.js';
import { serveMeshMcpHttp } from '../../mesh/mcp-http.js';

interface MeshMcpOptions extends CommonOptions {
  controller?: string;
  agentId?: string;
  tokenEnv?: string;
  http?: number;
}

export const AGENT_TOKEN_ENV = 'SWITCHBOARD_AGENT_TOKEN';
export const CONTROLLER_URL_ENV = 'SWITCHBOARD_CONTROLLER_URL';

/** Builds the client lazily on each call, so a fixed config or a new token is picked up without a restart. */
export function meshClientFactory(flags: MeshMcpOptions, env: NodeJS.ProcessEnv = process.env): () => MeshClient {
  return () => {
    let ctx: ReturnType<typeof loadContext>;
    try {
      ctx = loadContext(flags);
    } catch (err) {
      throw new MeshSetupError(`the Switchboard configuration cannot be read (${(err as Error).message}); ask the user to fix it (switchboard config check)`);
    }
    const url = flags.controller ?? env[CONTROLLER_URL_ENV] ?? ctx.config.controller?.url;
    if (!url) {
      throw new MeshSetupError(`no controller is configured. Ask the user to start the server with --controller https://<controller>:8788, set ${CONTROLLER_URL_ENV}, or add controller.url to switchboard.yaml`);
    }
    const tokenEnv = flags.tokenEnv ?? AGENT_TOKEN_ENV;
    const direct = env[tokenEnv]?.trim();
    const provider = direct ? () => direct : controllerTokenProvider(ctx.config.controller ?? resolveControllerLink({ url }), ctx.dataDir.root, env);
    const token = async () => {
      try {
        return await provider();
      } catch (err) {
        throw new MeshSetupError(`no agent token for ${url}: ${(err as Error).message}; or set ${tokenEnv} to a controller access token`);
      }
    };
    return new MeshClient({ url, token });
  };
}

export function registerMeshCommands(program: Command): void {
  const mesh = program.command('mesh').description('The Agent Mesh: hand tasks and approvals to other roles through the org controller');
  addDataDirOption(
    mesh
      .command('mcp')
      .description('Run the Agent Mesh MCP server (tools send_task, request_approval, notify, fetch_status) on stdio, or on loopback HTTP with --http')
      .option('--controller <url>', `controller URL (default: ${CONTROLLER_URL_ENV}, then controller.url in switchboard.yaml)`, (v) => parseUrl('--controller', v))
      .option('--agent-id <id>', 'this agent\'s registered id, sent as the sender of tasks')
      .option('--token-env <name>', `environment variable holding the controller token (default ${AGENT_TOKEN_ENV}; else the enrolment in the data dir)`)
      .option('--http <port>', 'serve streamable HTTP on 127.0.0.1:<port>/mcp instead of stdio (0 = any free port; the URL is printed on stderr)', parsePort)
      .addHelpText('after', '\nGoose extension: {type: stdio, cmd: switchboard, args: [mesh, mcp]}. See docs/agent-mesh.md.'),
  ).action(async (flags: MeshMcpOptions) => {
    const client = meshClientFactory(flags);
    const factory = () => createMeshMcpServer({ client, ...(flags.agentId ? { agentId: flags.agentId } : {}), version: program.version() ?? '0.0.0' });
    if (flags.http !== undefined) {
      const served = await serveMeshMcpHttp(factory, { port: flags.http });
      process.stderr.write(`switchboard mesh mcp: listening on ${served.url}\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve).once('SIGTERM', resolve);
      });
      await served.close();
      return;
    }
    const server = factory();
    await server.connect(new StdioServerTransport());
    await new Promise<void>((resolve) => process.stdin.once('end', resolve).once('close', resolve));
    await server.close();
  });
}
