/**
 * `gateway.guard.memoMegabytesPerTenant`: validated in switchboard.yaml (naming the key), bounds
 * each tenant's detection memo, and 0 turns the memo off.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile } from '../../bin/config.js';
import { startScriptedUpstream } from '../support/scripted-upstream.js';
import { startTestGateway } from '../support/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'switchboard-memo-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('gateway.guard.memoMegabytesPerTenant', () => {
  it('is validated, naming the key', () => {
    for (const bad of ['-1', '"lots"', '4096']) {
      const file = join(dir, 'bad.yaml');
      writeFileSync(file, `gateway:\n  guard: { memoMegabytesPerTenant: ${bad} }\n`);
      assert.throws(() => loadConfigFile(file), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.problems.join('\n'), /gateway\.guard\.memoMegabytesPerTenant: must be/);
        return true;
      }, bad);
    }
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, 'gateway:\n  guard: { memoMegabytes: 4 }\n');
    assert.throws(() => loadConfigFile(file), (err: unknown) => err instanceof ConfigError && /gateway\.guard\.memoMegabytes: unknown key/.test(err.problems.join('\n')));
    const ok = join(dir, 'ok.yaml');
    writeFileSync(ok, 'gateway:\n  guard: { memoMegabytesPerTenant: 0.5 }\n');
    assert.deepEqual(loadConfigFile(ok).gateway.guard, { memoMegabytesPerTenant: 0.5 });
  });

  it('bounds the memo per tenant, and 0 keeps none', async () => {
    const upstream = await startScriptedUpstream();
    try {
      for (const [mb, expected] of [[undefined, 8 * 1024 * 1024], [0.001, 1048], [0, undefined]] as const) {
        const gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, config: mb === undefined ? {} : { guard: { memoMegabytesPerTenant: mb } } });
        try {
          const memos = gw.server.services.guardMemos;
          assert.equal(memos === undefined ? undefined : memos.maxBytesPerTenant, expected, String(mb));
          // Either way, masking works.
          const res = await fetch(`${gw.url}/v1/chat/completions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.token}` },
            body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: `mail dana.whitfield@northwind-mail.com about it ${'please '.repeat(20)}` }] }),
          });
          assert.equal(res.status, 200);
          await res.text();
          assert.ok(!JSON.stringify(upstream.received.at(-1)).includes('dana.whitfield@'), 'masked');
          if (memos) assert.ok(memos.bytes > 0 && memos.bytes <= memos.maxBytesPerTenant, String(memos.bytes));
        } finally {
          await gw.close();
        }
      }
    } finally {
      await upstream.close();
    }
  });
});

describe('gateway.guard.previousTurnsMegabytes', () => {
  it('is validated, naming the key, and 0 keeps no previous turns', async () => {
    for (const bad of ['-1', '"lots"', '5000']) {
      const file = join(dir, 'bad-turns.yaml');
      writeFileSync(file, `gateway:\n  guard: { previousTurnsMegabytes: ${bad} }\n`);
      assert.throws(() => loadConfigFile(file), (err: unknown) => err instanceof ConfigError && /gateway\.guard\.previousTurnsMegabytes: must be/.test(err.problems.join('\n')), bad);
    }
    const upstream = await startScriptedUpstream();
    try {
      // Long enough (≥ 32 KB) to be parsed item by item, where previous turns are kept.
      const body = JSON.stringify({ model: 'm', messages: [{ role: 'system', content: 'rules '.repeat(8000) }, { role: 'user', content: 'mail dana.whitfield@northwind-mail.com about it' }] });
      for (const [mb, kept] of [[undefined, true], [0, false]] as const) {
        const gw = await startTestGateway({ upstreamUrl: upstream.baseUrl, config: mb === undefined ? {} : { guard: { previousTurnsMegabytes: mb } } });
        try {
          const res = await fetch(`${gw.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${gw.token}` }, body });
          assert.equal(res.status, 200);
          await res.text();
          assert.ok(!upstream.received.at(-1)!.raw.includes('dana.whitfield@'), 'masked');
          const turns = gw.server.services.previousTurns;
          assert.equal(turns !== undefined && turns.bytes > 0, kept, String(mb));
        } finally {
          await gw.close();
        }
      }
    } finally {
      await upstream.close();
    }
  });
});
