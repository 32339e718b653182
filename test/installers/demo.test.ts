/**
 * `switchboard demo` from source on a fresh data dir with no cloud key: the narration shows the
 * masked request leaving the machine, the re-identified answer, the cache hit, a downshift, the
 * approval escalating and being approved, and `audit verify` passing on both stores.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliInProcess } from './cli-in-process.js';

const EMAIL = 'maria.schmidt@posteo.de';

describe('switchboard demo', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-demo-test-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('narrates the whole flow offline, and every audit chain verifies', async () => {
    const res = await cliInProcess(['demo', '--data-dir', dataDir, '--deadline', '1'], {
      OPENROUTER_API_KEY: undefined,
      SWITCHBOARD_UPSTREAM_KEY: undefined,
      SWITCHBOARD_CONTROLLER_DB: undefined,
    });
    assert.equal(res.code, 0, `stdout: ${res.stdout}\nstderr: ${res.stderr}`);
    const lines = res.stdout.split('\n');
    const line = (prefix: string) => {
      const found = lines.filter((l) => l.startsWith(prefix));
      assert.equal(found.length, 1, `one "${prefix}" line in:\n${res.stdout}`);
      return found[0]!;
    };

    assert.match(line('upstream:'), /offline demo upstream \(a local stand-in for OpenRouter/);
    assert.ok(line('agent sent:').includes(EMAIL), 'the agent really sent the address');
    const left = line('left the machine:');
    assert.ok(!left.includes(EMAIL), `the address did not leave the machine: ${left}`);
    assert.match(left, /EMAIL_[0-9A-F]{8}/, 'a pseudonym went instead');
    assert.ok(line('came back:').includes(EMAIL), 'the answer is re-identified');
    assert.match(line('cost:'), /\$0\.\d*[1-9]\d*\s+cache: miss/);
    assert.match(line('same request again:'), /cache hit, cost \$0 /);
    assert.match(line('downshift:'), /asked for openai\/gpt-4\.1; a downshift rule .* sent it to google\/gemini-2\.5-flash/);

    assert.match(line('routing:             the router chose'), /chose accountant \(Finance\)/);
    const seen = line("Finance's agent saw:");
    for (const secret of ['Maria Schmidt', EMAIL, '901820']) assert.ok(!seen.includes(secret), `${secret} masked for Finance`);
    assert.ok(seen.includes('18500'), 'the budget itself is visible');
    assert.match(line('escalation:'), /escalated to cfo \(level 1\)/);
    assert.match(line('decision:'), /^decision:\s+approved by cfo$/);

    assert.match(line('gateway.db:'), /OK: every chain is intact/);
    const controller = line('controller.db:');
    assert.match(controller, /OK: every chain is intact/);
    const actions = lines[lines.indexOf(controller) + 1]!;
    for (const a of ['mesh.approval.requested', 'mesh.approval.escalated', 'mesh.approval.approved']) assert.ok(actions.includes(a), `${a} in the controller's audit chain: ${actions}`);
  });
});
