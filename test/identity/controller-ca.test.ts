/**
 * A controller behind a private CA: `--controller-ca` / `controller.caFile` make enrolment and the
 * gateway's bundle sync trust it, without NODE_EXTRA_CA_CERTS. The CA and the server certificate
 * are made here with openssl, so nothing depends on fixture dates. Order matters: the trusted CAs
 * are process-wide, so refusals are checked before the right CA is added.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { runController, type RunningController } from '../../controller/run.js';
import { importDirectory } from '../../controller/directory/import.js';
import { enrolCommand } from '../../bin/commands/enrol.js';
import { CliError } from '../../bin/cli-support.js';
import { controllerFetch } from '../../gateway/controller-tls.js';
import { createGatewayServer } from '../../gateway/server.js';
import { defaultGatewayConfig } from '../../gateway/config.js';
import { startScriptedUpstream } from '../support/scripted-upstream.js';
import { waitUntil } from '../support/wait.js';
import { sampleDirectoryYaml } from '../controller/harness.js';

const dir = mkdtempSync(join(tmpdir(), 'sb-ctl-ca-'));
const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

/** A CA (key + self-signed cert) and, when `server` is set, a 127.0.0.1 server certificate it signs. */
function makeCa(name: string, server = false): void {
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}-ca.key`, '-out', `${name}-ca.pem`, '-days', '2', '-subj', `/CN=${name} test CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  if (!server) return;
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', `${name}-ca.pem`, '-CAkey', `${name}-ca.key`, '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext');
}


describe('controller with a certificate from a private CA', () => {
  let controller: RunningController;
  before(async () => {
    makeCa('org', true);
    makeCa('other');
    mkdirSync(join(dir, 'controller'));
    controller = await runController({
      dataDir: join(dir, 'controller'),
      port: 0,
      logLevel: 'silent',
      tenant: 'acme',
      telemetry: { traces: 'off' },
      tls: { cert: readFileSync(join(dir, 'server.pem')), key: readFileSync(join(dir, 'server.key')) },
    });
    await importDirectory(sampleDirectoryYaml, 'yaml', 'org.yaml', controller.services.directory);
  });
  after(async () => {
    await controller.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const code = async () => (await controller.services.enrolment.createCode({ subject: 'gateway:ana-laptop', roles: ['finance'], createdBy: 'test' })).code;

  it('without the CA, controller calls refuse the certificate', async () => {
    await assert.rejects(controllerFetch(`${controller.url}/healthz`), (err: Error & { cause?: { code?: string } }) => {
      assert.match(String(err.cause?.code), /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY/);
      return true;
    });
  });

  it('an unusable CA file is a one-line CLI error naming the file', async () => {
    writeFileSync(join(dir, 'not-a-cert.pem'), 'hello\n');
    const gwDir = mkdtempSync(join(dir, 'gw-bad-'));
    await assert.rejects(enrolCommand({ dataDir: gwDir, code: 'sbe_x.y', controller: controller.url, controllerCa: join(dir, 'not-a-cert.pem') }), (err: Error) => {
      assert.ok(err instanceof CliError);
      assert.match(err.message, /not-a-cert\.pem holds no PEM certificate/);
      return true;
    });
    await assert.rejects(enrolCommand({ dataDir: gwDir, code: 'sbe_x.y', controller: controller.url, controllerCa: join(dir, 'missing.pem') }), /cannot read the controller CA file .*missing\.pem \(ENOENT\)/);
  });

  it('trusting another CA does not help: the certificate is still refused', async () => {
    const gwDir = mkdtempSync(join(dir, 'gw-other-'));
    await assert.rejects(enrolCommand({ dataDir: gwDir, code: await code(), controller: controller.url, controllerCa: join(dir, 'other-ca.pem') }), /cannot reach the controller|UNABLE_TO_VERIFY|certificate/i);
  });

  it('--controller-ca: enrolment works, and the gateway syncs its signed bundle over HTTPS (controller.caFile)', async () => {
    const gwDir = mkdtempSync(join(dir, 'gw-'));
    const printed = await enrolCommand({ dataDir: gwDir, code: await code(), controller: controller.url, controllerCa: join(dir, 'org-ca.pem') });
    assert.match(printed, /enrolled as gateway:ana-laptop \(tenant acme, roles: finance\) with https:\/\/127\.0\.0\.1:/);
    const upstream = await startScriptedUpstream();
    const gw = await createGatewayServer({
      config: { ...defaultGatewayConfig(), port: 0, upstreams: [{ name: 'primary', kind: 'openrouter', baseUrl: upstream.baseUrl, apiKeyEnv: 'K' }] },
      dataDir: gwDir,
      logger: pino({ level: 'silent' }),
      env: { K: 'sk-test' },
      controller: { url: controller.url, caFile: join(dir, 'org-ca.pem'), bundles: { pollIntervalMs: 200, requestTimeoutMs: 5000, keyRefreshMs: 60_000, expiryGraceMs: 60_000 }, audit: { batchSize: 50, flushIntervalMs: 100, maxBackoffMs: 1000, localRetentionDays: 1 } },
    });
    try {
      await waitUntil(() => gw.services.controllerLink.bundles?.current()?.role === 'finance', 'bundle synced over https', 20_000, 50);
    } finally {
      await gw.close();
      await upstream.close();
    }
  });
});
