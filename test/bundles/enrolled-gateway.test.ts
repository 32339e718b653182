/**
 * Enrolment as a new user does it: `switchboard enrol` against a real controller, then a
 * gateway started on the same data dir with no controller section in its config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { createControllerServices, type ControllerServices } from '../../controller/services.js';
import { buildControllerServer } from '../../controller/server.js';
import { importDirectory } from '../../controller/directory/import.js';
import { createGatewayServer, type GatewayServer } from '../../gateway/server.js';
import { defaultGatewayConfig } from '../../gateway/config.js';
import { BUNDLE_KEYS_FILE, ENROLMENT_FILE, enrolGateway, type StoredEnrolment } from '../../gateway/bundles/enrolled-token.js';
import { checkControllerUrl, resolveControllerLink } from '../../gateway/bundles/controller-link-config.js';
import { ControllerLinkError } from '../../gateway/bundles/controller-link.js';
import { enrolCommand } from '../../bin/commands/enrol.js';
import { CliError } from '../../bin/cli-support.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { sampleDirectoryYaml } from '../controller/harness.js';
import { chat, eventually } from './linked-setup.js';

interface Controller {
  url: string;
  services: ControllerServices;
  app: FastifyInstance;
  close(): Promise<void>;
}

async function startController(dataDir: string, bundleTtlMs?: number): Promise<Controller> {
  const services = await createControllerServices({ dataDir, tenant: 'acme' });
  if (bundleTtlMs) services.bundles = { ttlMs: bundleTtlMs, publishLeadMs: 0 };
  const app = await buildControllerServer({ services, logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  await importDirectory(sampleDirectoryYaml, 'yaml', 'org.yaml', services.directory);
  const { port } = app.server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, services, app, close: async () => { await app.close(); await services.close(); } };
}

function capture(): { lines: string[]; log: Logger } {
  const lines: string[] = [];
  const log = pino({ level: 'debug' }, new Writable({ write(c: Buffer, _e, cb) { lines.push(...c.toString().split('\n').filter(Boolean)); cb(); } }));
  return { lines, log };
}

async function startGateway(dataDir: string, upstream: ScriptedUpstream, log: Logger, controller?: Parameters<typeof createGatewayServer>[0]['controller']) {
  const gw = await createGatewayServer({
    // Defaults on purpose: identity role "engineering", tenant "local", user "local-user".
    config: { ...defaultGatewayConfig(), port: 0, upstreams: [{ name: 'primary', kind: 'openrouter', baseUrl: upstream.baseUrl, apiKeyEnv: 'K' }], retry: { maxAttempts: 1, baseDelayMs: 5, maxDelayMs: 20, maxRetryAfterMs: 2000 } },
    dataDir,
    logger: log,
    env: { K: 'sk-test' },
    ...(controller ? { controller } : {}),
  });
  return { gw, url: await gw.listen() };
}

const readyz = async (url: string) => {
  const res = await fetch(`${url}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; policy: { state?: string; role: string; version?: string; ready: boolean; enrolled?: { subject: string } } } };
};

test('enrol, then `gateway` on the same data dir runs as the enrolled subject, role and tenant', async () => {
  const ctlDir = mkdtempSync(join(tmpdir(), 'sb-ctl-'));
  const gwDir = mkdtempSync(join(tmpdir(), 'sb-gw-'));
  const ctl = await startController(ctlDir);
  const upstream = await startScriptedUpstream();
  const { log, lines } = capture();
  let gw: GatewayServer | undefined;
  try {
    const { code } = await ctl.services.enrolment.createCode({ subject: 'gateway:ana-laptop', roles: ['finance'], createdBy: 'test' });
    const printed = await enrolCommand({ dataDir: gwDir, code, controller: ctl.url });
    assert.match(printed, /enrolled as gateway:ana-laptop \(tenant acme, roles: finance\)/);
    const stored = JSON.parse(readFileSync(join(gwDir, ENROLMENT_FILE), 'utf8')) as StoredEnrolment;
    assert.deepEqual([stored.controllerUrl, stored.tenant, stored.subject, stored.roles], [ctl.url, 'acme', 'gateway:ana-laptop', ['finance']]);
    assert.ok(existsSync(join(gwDir, BUNDLE_KEYS_FILE)), 'pinned bundle keys stored');

    const started = await startGateway(gwDir, upstream, log);
    gw = started.gw;
    const link = gw.services.controllerLink;
    assert.equal(link.bundles?.current()?.role, 'finance', 'the bundle of the enrolled role, not gateway.identity.role');
    const ready = await readyz(started.url);
    assert.equal(ready.status, 200);
    assert.deepEqual([ready.body.policy.state, ready.body.policy.role, ready.body.policy.version], ['current', 'finance', link.bundles!.current()!.version]);
    assert.equal(ready.body.policy.enrolled?.subject, 'gateway:ana-laptop');

    assert.equal((await chat(started.url, gw.services.localToken, 'openai/gpt-4.1-mini')).status, 200);
    // Finance allows the standard and economy tiers: a premium model listed in `allowed` is refused.
    const premium = await chat(started.url, gw.services.localToken, 'anthropic/claude-sonnet-4');
    assert.ok(premium.status >= 400 && premium.status < 500, `premium refused (got ${premium.status})`);
    assert.match(JSON.stringify(premium.body), /premium tier.*standard, economy/);
    assert.equal(upstream.received.length, 1, 'the premium request never reached the upstream');

    await eventually(() => [...link.spool.events()].length >= 2, 'audit events written');
    const events = [...link.spool.events()];
    assert.ok(events.every((e) => e.actor.id === 'gateway:ana-laptop' && e.tenantId === 'acme'), 'audit actor and tenant are the enrolled ones');
    assert.match(events.find((e) => e.result === 'denied')!.reason ?? '', /tier premium not allowed for role finance/);
    const users = gw.services.db().prepare('SELECT DISTINCT user_id, tenant_id FROM usage_records').all() as Array<{ user_id: string; tenant_id: string }>;
    assert.deepEqual(users, [{ user_id: 'gateway:ana-laptop', tenant_id: 'acme' }]);
    await eventually(() => link.spool.pendingCount() === 0, 'events shipped to the controller with the enrolled token');
    assert.ok(lines.some((l) => l.includes('gateway identity: enrolled')));
  } finally {
    await gw?.close();
    await ctl.close();
    await upstream.close();
    rmSync(ctlDir, { recursive: true, force: true });
    rmSync(gwDir, { recursive: true, force: true });
  }
});

test('enrolment refuses a controller whose bundle keys do not match the code, and plain http to another machine', async () => {
  const ctlDir = mkdtempSync(join(tmpdir(), 'sb-ctl-'));
  const otherDir = mkdtempSync(join(tmpdir(), 'sb-ctl-'));
  const gwDir = mkdtempSync(join(tmpdir(), 'sb-gw-'));
  const ctl = await startController(ctlDir);
  const impostor = await startController(otherDir);
  try {
    // A code made by the real controller, redeemed against another one (e.g. a DNS or proxy swap).
    const { code } = await ctl.services.enrolment.createCode({ subject: 'gateway:x', roles: ['finance'], createdBy: 'test' });
    await assert.rejects(enrolGateway(impostor.url, code, gwDir), /bundle keys with fingerprint .* but the code was made for/);
    assert.equal(existsSync(join(gwDir, ENROLMENT_FILE)), false, 'nothing stored');
    await assert.rejects(enrolGateway(ctl.url, code.split('.')[0]!, gwDir), /carries no bundle-key fingerprint/);
    // The code was not spent by the refusals.
    await enrolGateway(ctl.url, code, gwDir);

    await assert.rejects(enrolCommand({ dataDir: gwDir, code, controller: 'http://10.20.30.40:8788' }), (e: unknown) => e instanceof CliError && /refusing plain-http controller URL .*--insecure/.test(e.message));
    assert.equal(checkControllerUrl('http://10.20.30.40:8788', true), undefined, '--insecure allows it');
    assert.equal(checkControllerUrl('https://ctl.acme.example', false), undefined);
    assert.equal(checkControllerUrl('http://localhost:8788', false), undefined);
    assert.equal(checkControllerUrl('http://[::1]:8788', false), undefined);
    assert.match(checkControllerUrl('http://127.0.0.1.evil.example', false) ?? '', /refusing/);
    // The gateway refuses such a configured URL at start too, with one clear message.
    const upstream = await startScriptedUpstream();
    const plainDir = mkdtempSync(join(tmpdir(), 'sb-gw-'));
    try {
      const { log } = capture();
      await assert.rejects(
        startGateway(plainDir, upstream, log, resolveControllerLink({ url: 'http://10.20.30.40:8788', tokenFile: 'token' })),
        (e: unknown) => e instanceof ControllerLinkError && /refusing plain-http controller URL/.test(e.message),
      );
    } finally {
      await upstream.close();
      rmSync(plainDir, { recursive: true, force: true });
    }
  } finally {
    await ctl.close();
    await impostor.close();
    for (const d of [ctlDir, otherDir, gwDir]) rmSync(d, { recursive: true, force: true });
  }
});

test('a removed bundle key stops being trusted; an expired bundle falls back to the safe default; no bundle is not ready', async () => {
  const ctlDir = mkdtempSync(join(tmpdir(), 'sb-ctl-'));
  const gwDir = mkdtempSync(join(tmpdir(), 'sb-gw-'));
  let ctl = await startController(ctlDir, 3_000);
  const upstream = await startScriptedUpstream();
  const { log, lines } = capture();
  let gw: GatewayServer | undefined;
  try {
    const { code } = await ctl.services.enrolment.createCode({ subject: 'gateway:b', roles: ['finance'], createdBy: 'test' });
    await enrolGateway(ctl.url, code, gwDir);
    const controller = { url: ctl.url, bundles: { pollIntervalMs: 100, requestTimeoutMs: 2000, keyRefreshMs: 3_600_000, expiryGraceMs: 0 }, audit: { batchSize: 500, flushIntervalMs: 50, maxBackoffMs: 200, localRetentionDays: 90 } };
    let started = await startGateway(gwDir, upstream, log, controller);
    gw = started.gw;
    const sync = gw.services.controllerLink.bundles!;
    const oldKid = sync.current()!.kid;

    // The admin rotates (the gateway learns the new key, signed by the one it trusts), then removes
    // the old key (compromise): at its next key refresh the gateway drops it and what it signed.
    const admin = `Bearer ${(await ctl.services.tokens.mintAccessToken({ subject: 'admin:t', roles: ['admin'], authMethod: 'test' })).token}`;
    assert.equal((await ctl.app.inject({ method: 'POST', url: '/api/v1/bundle-keys/rotate', headers: { authorization: admin } })).statusCode, 200);
    await sync.refreshKeys();
    const revoked = await ctl.app.inject({ method: 'POST', url: `/api/v1/bundle-keys/${oldKid}/revoke`, headers: { authorization: admin } });
    assert.equal(revoked.statusCode, 200);
    // The 100 ms poll may bring a bundle signed by the new key at any time, also while the refresh
    // below awaits the key list; if it has not by the time the old key is dropped, the refresh drops
    // the bundle that key signed, and says so.
    const signedByOldKey = sync.current()?.kid === oldKid;
    const linesBefore = lines.length;
    await sync.refreshKeys();
    const trusted = JSON.parse(readFileSync(join(gwDir, BUNDLE_KEYS_FILE), 'utf8')) as { keys: Array<{ kid: string }> };
    assert.ok(!trusted.keys.some((k) => k.kid === oldKid), 'removed key no longer trusted');
    if (signedByOldKey) {
      const since = lines.slice(linesBefore);
      assert.ok(
        since.some((l) => l.includes('no longer publishes the key that signed the bundle in force')) || since.some((l) => l.includes('accepted new bundle')),
        'the old key\'s bundle was dropped, or replaced by a new-key bundle during the refresh',
      );
    }
    await eventually(() => sync.current() !== undefined, 'a bundle in force again');
    assert.notEqual(sync.current()?.kid, oldKid, 'a bundle signed by a current key is in force again');
    assert.equal((await readyz(started.url)).status, 200);

    // Controller gone, bundle past exp + grace (0 here): the safe default applies, and /readyz and the log say so.
    await ctl.close();
    await eventually(async () => (await readyz(started.url)).body.policy.state === 'expired-fallback', 'fallback after expiry', 10_000);
    const fallback = await readyz(started.url);
    assert.equal(fallback.status, 503);
    assert.equal(fallback.body.policy.version, 'safe-default');
    assert.ok(lines.some((l) => l.includes('applying the safe default policy (every data class masked)')));
    // Finance blocks IBANs; the safe default masks every class instead (nothing in clear goes upstream).
    const res = await chat(started.url, gw.services.localToken, 'openai/gpt-4.1-mini', 'Pay DE89370400440532013000 today');
    assert.equal(res.status, 200);
    assert.ok(!(upstream.received.at(-1)?.raw ?? '').includes('DE89370400440532013000'), 'IBAN masked');

    // Restart with no bundle on disk and the controller still away: not ready, requests refused.
    await gw.close();
    gw = undefined;
    rmSync(join(gwDir, 'bundles', 'finance.jws'), { force: true });
    started = await startGateway(gwDir, upstream, log, controller);
    gw = started.gw;
    const none = await readyz(started.url);
    assert.equal(none.status, 503);
    assert.deepEqual([none.body.policy.state, none.body.policy.ready], ['none', false]);
    ctl = await startController(ctlDir, 3_000);
  } finally {
    await gw?.close();
    await ctl.close();
    await upstream.close();
    rmSync(ctlDir, { recursive: true, force: true });
    rmSync(gwDir, { recursive: true, force: true });
  }
});

test('a refresh whose reply is lost is retried with the same token and the enrolment survives', async () => {
  const ctlDir = mkdtempSync(join(tmpdir(), 'sb-ctl-'));
  const gwDir = mkdtempSync(join(tmpdir(), 'sb-gw-'));
  const ctl = await startController(ctlDir);
  const upstream = await startScriptedUpstream();
  // A proxy that delivers the first refresh to the controller but drops the reply.
  let dropped = 0;
  const ctlPort = new URL(ctl.url).port;
  const proxy: Server = createServer((req, res) => {
    const upstreamReq = httpRequest({ host: '127.0.0.1', port: ctlPort, path: req.url, method: req.method, headers: req.headers }, (up) => {
      if (req.url === '/api/v1/token/refresh' && dropped === 0) {
        dropped++;
        up.resume();
        up.on('end', () => res.socket?.destroy());
        return;
      }
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    req.pipe(upstreamReq);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
  const { log } = capture();
  let gw: GatewayServer | undefined;
  try {
    const { code } = await ctl.services.enrolment.createCode({ subject: 'gateway:c', roles: ['finance'], createdBy: 'test' });
    await enrolGateway(proxyUrl, code, gwDir);
    const before = JSON.parse(readFileSync(join(gwDir, ENROLMENT_FILE), 'utf8')) as StoredEnrolment;
    const started = await startGateway(gwDir, upstream, log);
    gw = started.gw;
    assert.equal(dropped, 1, 'the first refresh reply was lost');
    assert.equal(gw.services.controllerLink.bundles!.current()?.role, 'finance', 'the retry got the tokens');
    const after = JSON.parse(readFileSync(join(gwDir, ENROLMENT_FILE), 'utf8')) as StoredEnrolment;
    assert.notEqual(after.refreshToken, before.refreshToken, 'the new refresh token is stored');
    const revoked = await ctl.services.store.db.selectFrom('refresh_tokens').select('token_hash').where('revoked_at', 'is not', null).execute();
    assert.equal(revoked.length, 0, 'nothing revoked: the enrolment survives the lost reply');
  } finally {
    await gw?.close();
    await new Promise<void>((r) => proxy.close(() => r()));
    await ctl.close();
    await upstream.close();
    rmSync(ctlDir, { recursive: true, force: true });
    rmSync(gwDir, { recursive: true, force: true });
  }
});
