import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runController, type RunningController } from '../../controller/run.js';

const run = promisify(execFile);
const CERT = 'test/fixtures/tls/controller-cert.pem';
const KEY = 'test/fixtures/tls/controller-key.pem';

/** Fetches a URL from a fresh Node process, the way the gateway's controller client (global fetch) does. */
async function fetchFromGatewayProcess(url: string, env: NodeJS.ProcessEnv): Promise<string> {
  const script = `fetch(${JSON.stringify(url)}).then(async (r) => console.log('status', r.status, await r.text()), (e) => console.log('failed', e.cause?.code ?? e.message))`;
  const { stdout } = await run(process.execPath, ['-e', script], { env: { PATH: process.env.PATH, ...env } });
  return stdout.trim();
}

describe('controller over HTTPS', () => {
  let dataDir: string;
  let controller: RunningController;
  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sb-ctl-tls-'));
    controller = await runController({ dataDir, port: 0, logLevel: 'silent', telemetry: { traces: 'off' }, tls: { cert: readFileSync(CERT), key: readFileSync(KEY) } });
  });
  after(async () => {
    await controller.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves https:// when given a certificate and key', () => {
    assert.match(controller.url, /^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('a client that does not trust the certificate refuses to talk (the gateway verifies)', async () => {
    const out = await fetchFromGatewayProcess(`${controller.url}/healthz`, {});
    assert.match(out, /^failed (SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE)/);
  });

  it('trusting the private CA (NODE_EXTRA_CA_CERTS) makes it work', async () => {
    const out = await fetchFromGatewayProcess(`${controller.url}/healthz`, { NODE_EXTRA_CA_CERTS: CERT });
    assert.match(out, /^status 200 \{"ok":true/);
  });

  it('plain http to the TLS port gets no answer it could mistake for success', async () => {
    const out = await fetchFromGatewayProcess(controller.url.replace('https:', 'http:') + '/healthz', {});
    assert.doesNotMatch(out, /^status 200/);
  });
});
