/**
 * Runs @modelcontextprotocol/conformance (server suite) against `switchboard mesh mcp`'s
 * streamable HTTP server. The runner needs Node >= 22, so it runs under the npm registry's
 * `node` package (npx -p node@22), whatever Node runs this script. Fixture-only scenarios
 * (they call the reference "everything server" tools, resources and prompts we do not have) are
 * listed in scripts/mesh-mcp-conformance-expected.yaml; everything else must pass, including
 * the wire-schema check of every message our tools send.
 *
 *   node --import tsx scripts/mesh-mcp-conformance.ts        (also run by .ci/run)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMeshMcpServer, MeshSetupError } from '../mesh/mcp-server.js';
import { serveMeshMcpHttp } from '../mesh/mcp-http.js';

const RUNNER = ['-y', '-p', 'node@22', '-p', '@modelcontextprotocol/conformance@0.1.16', '--', 'conformance'];
const expected = join(import.meta.dirname, 'mesh-mcp-conformance-expected.yaml');

const served = await serveMeshMcpHttp(() =>
  createMeshMcpServer({
    client: () => {
      throw new MeshSetupError('no controller is configured (conformance run)');
    },
    version: 'conformance',
  }),
);
const out = mkdtempSync(join(tmpdir(), 'sb-mcp-conformance-'));
const code = await new Promise<number>((resolve) => {
  const child = spawn('npx', [...RUNNER, 'server', '--url', served.url, '--expected-failures', expected, '-o', out], { stdio: 'inherit' });
  child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  child.on('error', (err) => {
    process.stderr.write(`cannot start the conformance runner: ${err.message}\n`);
    resolve(1);
  });
});
await served.close();
rmSync(out, { recursive: true, force: true });
process.exit(code);
