import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chat, eventually, startLinkedSetup } from './linked-setup.js';

test('gateway syncs its signed bundle, enforces it, and survives controller and gateway restarts', async () => {
  const s = await startLinkedSetup();
  try {
    await s.startGateway();
    const bundle = s.gateway()!.services.controllerLink.bundles!.current();
    assert.ok(bundle, 'bundle synced at start');
    assert.equal(bundle.role, 'finance');
    assert.ok(existsSync(join(s.gatewayDataDir, 'bundles', 'finance.jws')), 'last good bundle kept on disk');

    // The finance profile allows openai/gpt-4.1-mini but not openai/gpt-4o-mini.
    const ok = await chat(s.gatewayUrl(), s.gatewayToken(), 'openai/gpt-4.1-mini');
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const denied = await chat(s.gatewayUrl(), s.gatewayToken(), 'openai/gpt-4o-mini');
    assert.equal(denied.status, 400);
    assert.match((denied.body as { error: { message: string } }).error.message, /not allowed for role "finance"/);

    // Polling with If-None-Match: the controller answers 304, the bundle object is unchanged.
    assert.equal(await s.gateway()!.services.controllerLink.bundles!.syncNow(), 'unchanged');

    // Controller goes away: requests keep being served under the last good bundle.
    await s.stopController();
    assert.equal(await s.gateway()!.services.controllerLink.bundles!.syncNow(), 'unreachable');
    assert.equal((await chat(s.gatewayUrl(), s.gatewayToken(), 'openai/gpt-4.1-mini')).status, 200);
    assert.ok(s.logs.some((l) => l.includes('controller unreachable') && l.includes('keeping the last good bundle')));

    // Gateway restarts while the controller is still down: the bundle comes from disk.
    await s.stopGateway();
    await s.startGateway();
    assert.equal(s.gateway()!.services.controllerLink.bundles!.current()?.version, bundle.version);
    assert.equal((await chat(s.gatewayUrl(), s.gatewayToken(), 'openai/gpt-4.1-mini')).status, 200);
    assert.equal((await chat(s.gatewayUrl(), s.gatewayToken(), 'openai/gpt-4o-mini')).status, 400);

    // Controller back: same bytes from the database, same ETag, so 304 again.
    await s.startController();
    await eventually(async () => (await s.gateway()!.services.controllerLink.bundles!.syncNow()) === 'unchanged', 'controller reachable again');
    assert.equal(readFileSync(join(s.gatewayDataDir, 'bundles', 'finance.jws'), 'utf8'), bundle.jws);
  } finally {
    await s.close();
  }
});

test('a gateway with no bundle yet and no controller refuses requests clearly', async () => {
  const s = await startLinkedSetup();
  try {
    await s.stopController();
    await s.startGateway();
    const res = await chat(s.gatewayUrl(), s.gatewayToken(), 'openai/gpt-4.1-mini');
    assert.equal(res.status, 503);
    assert.match((res.body as { error: { message: string } }).error.message, /No policy is available for role "finance"/);
  } finally {
    await s.close();
  }
});
