import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chat, eventually, startLinkedSetup } from './linked-setup.js';
import { ENROLMENT_FILE } from '../../gateway/bundles/enrolled-token.js';

test('an enrolled gateway syncs its bundle and ships audit with refreshed tokens, across a controller restart', async () => {
  const s = await startLinkedSetup({ auth: 'enrolment', pollIntervalMs: 60_000 });
  try {
    const before = JSON.parse(readFileSync(join(s.gatewayDataDir, ENROLMENT_FILE), 'utf8')) as { refreshToken: string; subject: string };
    assert.equal(before.subject, 'gateway:test');
    await s.startGateway();
    const link = s.gateway()!.services.controllerLink;
    assert.equal(link.bundles!.current()?.role, 'finance');
    const after = JSON.parse(readFileSync(join(s.gatewayDataDir, ENROLMENT_FILE), 'utf8')) as { refreshToken: string };
    assert.notEqual(after.refreshToken, before.refreshToken, 'refresh token rotated and stored');

    assert.equal((await chat(s.gatewayUrl(), s.gatewayToken(), 'openai/gpt-4.1-mini')).status, 200);
    await eventually(() => link.spool.pendingCount() === 0, 'event shipped with the enrolled identity');

    await s.stopController();
    await s.startController();
    await eventually(async () => (await link.bundles!.syncNow()) === 'unchanged', 'bundle poll works again with the enrolled identity');
    assert.equal((await chat(s.gatewayUrl(), s.gatewayToken(), 'openai/gpt-4.1-mini')).status, 200);
    await eventually(() => link.spool.pendingCount() === 0, 'second event shipped after the restart');
  } finally {
    await s.close();
  }
});
