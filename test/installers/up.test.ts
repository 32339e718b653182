import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import OpenAI from 'openai';
import { startUp, upBanner } from '../../bin/commands/up.js';
import { CliError } from '../../bin/cli-support.js';
import { UP_LOCK_FILE } from '../../bin/data-dir-lock.js';
import { ENROLMENT_FILE } from '../../gateway/bundles/enrolled-token.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';

describe('switchboard up', () => {
  let upstream: ScriptedUpstream;
  const dirs: string[] = [];
  const freshDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'sb-up-'));
    dirs.push(d);
    return d;
  };
  before(async () => {
    upstream = await startScriptedUpstream();
  });
  after(async () => {
    await upstream.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('runs controller + enrolled gateway, serves calls under the role bundle, and resumes on a second up', async () => {
    const dataDir = freshDir();
    const flags = { dataDir, port: '0', controllerPort: '0', role: 'finance', upstream: upstream.baseUrl, logLevel: 'silent' };
    const first = await startUp(flags);
    let token: string;
    let enrolment: string;
    try {
      assert.ok(first.controller, 'embedded controller runs');
      assert.equal(first.subject, 'accountant');
      const health = await fetch(`${first.controllerUrl}/healthz`).then((r) => r.json() as Promise<{ ok: boolean }>);
      assert.equal(health.ok, true);
      const bundle = first.gateway.server.services.controllerLink.bundles?.current();
      assert.equal(bundle?.role, 'finance', 'gateway holds the finance bundle from the local controller');
      token = first.gateway.server.services.localToken;
      const client = new OpenAI({ baseURL: `${first.gateway.url}/v1`, apiKey: token });
      const answer = await client.chat.completions.create({ model: 'openai/gpt-4.1', messages: [{ role: 'user', content: 'hello' }] });
      assert.ok(answer.choices[0]);
      const banner = upBanner(first);
      for (const needle of [first.gateway.url, token, first.controllerUrl!, 'GOOSE_PROVIDER: switchboard', '/goose/v1', 'OPENAI_BASE_PATH', 'GOOSE_MODEL:    openai/gpt-4.1']) {
        assert.ok(banner.includes(needle), `banner shows ${needle}`);
      }
      enrolment = readFileSync(join(dataDir, ENROLMENT_FILE), 'utf8');
    } finally {
      await first.stop();
    }

    const second = await startUp(flags);
    try {
      assert.equal(second.gateway.server.services.localToken, token, 'same local token');
      assert.equal(JSON.parse(readFileSync(join(dataDir, ENROLMENT_FILE), 'utf8')).subject, JSON.parse(enrolment).subject);
      const person = await second.controller!.services.directory.get('accountant');
      assert.equal(person?.managerId, 'cfo', 'sample directory still loaded');
      assert.equal(second.gateway.server.services.controllerLink.bundles?.current()?.role, 'finance');
    } finally {
      await second.stop();
    }

    // A reset controller database: the stale enrolment is replaced, not trusted.
    rmSync(join(dataDir, 'controller.db'), { force: true });
    for (const f of ['controller.db-wal', 'controller.db-shm']) rmSync(join(dataDir, f), { force: true });
    const third = await startUp(flags);
    try {
      assert.equal(third.gateway.server.services.localToken, token);
      const stillWorks = await third.gateway.server.services.controllerLink.bundles?.syncNow();
      assert.ok(stillWorks === 'unchanged' || stillWorks === 'updated', `bundle sync after re-enrolment: ${stillWorks}`);
    } finally {
      await third.stop();
    }
  });

  it('refuses an unknown role and a remote controller without an enrolment code, with clear messages', async () => {
    await assert.rejects(startUp({ dataDir: freshDir(), port: '0', controllerPort: '0', role: 'astronaut', upstream: upstream.baseUrl, logLevel: 'silent' }), (err: unknown) => {
      assert.ok(err instanceof CliError);
      assert.match(err.message, /--role "astronaut" has no profile \(known roles: .*finance/);
      return true;
    });
    await assert.rejects(startUp({ dataDir: freshDir(), port: '0', controller: 'http://127.0.0.1:9', upstream: upstream.baseUrl, logLevel: 'silent' }), /not enrolled with http:\/\/127\.0\.0\.1:9: pass --code/);
    await assert.rejects(startUp({ dataDir: freshDir(), gatewayOnly: true, controllerPort: '1' }), /--gateway-only runs no controller/);
  });

  it('--controller URL enrols with a remote org server using --code', async () => {
    const orgDir = freshDir();
    const org = await startUp({ dataDir: orgDir, port: '0', controllerPort: '0', upstream: upstream.baseUrl, logLevel: 'silent' });
    try {
      const { code } = await org.controller!.services.enrolment.createCode({ subject: 'marketer', roles: ['marketing'], ttlSeconds: 60, createdBy: 'test' });
      const laptop = await startUp({ dataDir: freshDir(), port: '0', controller: org.controllerUrl!, code, upstream: upstream.baseUrl, logLevel: 'silent' });
      try {
        assert.equal(laptop.controller, undefined);
        assert.equal(laptop.role, 'marketing');
        assert.equal(laptop.gateway.server.services.controllerLink.bundles?.current()?.role, 'marketing');
      } finally {
        await laptop.stop();
      }
    } finally {
      await org.stop();
    }
  });

  it('--gateway-only runs the gateway alone', async () => {
    const up = await startUp({ dataDir: freshDir(), port: '0', gatewayOnly: true, upstream: upstream.baseUrl, logLevel: 'silent' });
    try {
      assert.equal(up.controller, undefined);
      assert.equal(up.gateway.server.services.controllerLink.bundles, undefined);
      assert.match(upBanner(up), /Controller: +none \(--gateway-only\)/);
    } finally {
      await up.stop();
    }
  });

  it('the CLI prints the settings and Ctrl-C stops both services cleanly (exit 0)', async () => {
    const dataDir = freshDir();
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/switchboard.ts', 'up', '--data-dir', dataDir, '--port', '0', '--controller-port', '0', '--log-level', 'silent'], {
      env: { ...process.env, OPENROUTER_API_KEY: '', SWITCHBOARD_UPSTREAM_KEY: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!stderr.includes('Stop: Ctrl-C') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 100));
    assert.match(stderr, /Controller: +http:\/\/127\.0\.0\.1:\d+ \(embedded, SQLite\)/, stderr);
    assert.match(stderr, /offline demo upstream/);
    const gatewayUrl = /Switchboard gateway: +(\S+)/.exec(stderr)![1]!;
    assert.equal((await fetch(`${gatewayUrl}/healthz`)).ok, true);
    // A second `up` on the same data dir (another controller port) is refused before it touches
    // anything: it used to re-enrol the running gateway against its own, soon dead, controller.
    const enrolment = readFileSync(join(dataDir, ENROLMENT_FILE), 'utf8');
    await assert.rejects(startUp({ dataDir, port: '0', controllerPort: '0', upstream: upstream.baseUrl, logLevel: 'silent' }), (err: unknown) => {
      assert.ok(err instanceof CliError);
      assert.equal(err.message, `switchboard up is already running on ${dataDir} (pid ${child.pid}): stop it first (Ctrl-C), or pass another --data-dir`);
      return true;
    });
    assert.equal(readFileSync(join(dataDir, ENROLMENT_FILE), 'utf8'), enrolment, 'the running enrolment is untouched');
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.ok(!existsSync(join(dataDir, UP_LOCK_FILE)), 'the lock is released on Ctrl-C');
    // A lock left by a process that is gone (kill -9, a crash) is stale and taken over.
    writeFileSync(join(dataDir, UP_LOCK_FILE), String(child.pid));
    const again = await startUp({ dataDir, port: '0', controllerPort: '0', upstream: upstream.baseUrl, logLevel: 'silent' });
    assert.equal(readFileSync(join(dataDir, UP_LOCK_FILE), 'utf8'), String(process.pid));
    await again.stop();
  });
});
