/**
 * The built package is what users run: every command group of dist/bin/switchboard.js, on one
 * fresh data dir, answers `--help` and does one real thing. `npm test` builds dist/ first; a
 * dist/ older than the sources fails here rather than testing stale code.
 *
 * Adding a command group = one entry in `groups` below (the test refuses a group without one).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { spawn } from 'node:child_process';
import { MeshClient } from '../../mesh/client.js';
import type { TaskStatus } from '../../mesh/contracts.js';
import { startScriptedUpstream, type ScriptedUpstream } from '../support/scripted-upstream.js';
import { assertDistFresh, DIST_CLI, REPO_ROOT, runCli, serveCli, type CliResult, type ServedCli } from './run-dist.js';

interface Env {
  dataDir: string;
  upstream: ScriptedUpstream;
  run(args: string[], opts?: { stdin?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<CliResult>;
  /** Starts a long-running command and waits for its "... listening" log line. */
  serve(args: string[], opts?: { env?: NodeJS.ProcessEnv }): Promise<ServedCli>;
  /** What an earlier action left for a later one (e.g. the controller URL). */
  state: Map<string, string>;
}

/** One real action per command group; they run in this order, on the same data dir. */
const groups: Array<{ group: string; action: (env: Env) => Promise<void> }> = [
  { group: 'token', action: async (e) => assert.match(ok(await e.run(['token'])), /^sb-local-\S{20,}\n$/) },
  { group: 'config', action: async (e) => assert.match(ok(await e.run(['config', 'check'])), /OK/) },
  { group: 'models', action: async (e) => assert.match(ok(await e.run(['models', 'list'])), /openai\/gpt-4o-mini\s+\w+/) },
  { group: 'rules', action: async (e) => assert.match(ok(await e.run(['rules', 'check', 'dist/policies/downshift/default-rules.yaml'])), /OK \(\d+ rules/) },
  { group: 'gateway', action: gatewayAnswers },
  { group: 'up', action: upAnswersWithDemoUpstream },
  { group: 'usage', action: async (e) => assert.ok((JSON.parse(ok(await e.run(['usage', '--format', 'json']))) as { total: { requests: number } }).total.requests >= 1) },
  { group: 'audit', action: async (e) => assert.match(ok(await e.run(['audit', 'verify'])), /events in 1 chain\(s\)[\s\S]*OK: every chain is intact/) },
  { group: 'guard', action: guardDetectsFromStdin },
  { group: 'directory', action: directoryImportLoadsAFile },
  { group: 'controller', action: controllerServesOpenApi },
  { group: 'enrol', action: enrolAgainstTheController },
  { group: 'login', action: loginAsksTheController },
  { group: 'logout', action: async (e) => assert.match(ok(await e.run(['logout'])), /not signed in/) },
  { group: 'secrets', action: secretsStoreAndList },
  { group: 'doctor', action: doctorReportsChecks },
  { group: 'agent', action: agentNeedsAnEnrolment },
  { group: 'mesh', action: meshMcpListsItsTools },
  { group: 'demo', action: demoRunsOffline },
  { group: 'goose', action: async (e) => assert.match(ok(await e.run(['goose', 'env'])), /OPENAI_HOST='http:\/\/127\.0\.0\.1:\d+'/) },
  { group: 'service', action: async (e) => assert.match(ok(await e.run(['service', 'install'])), /switchboard(\.js)?['"]? gateway/) },
];

function ok(r: CliResult): string {
  assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return r.stdout;
}

async function gatewayAnswers(e: Env): Promise<void> {
  const token = ok(await e.run(['token'])).trim();
  const gw = await e.serve(['gateway', '--port', '0', '--upstream', e.upstream.baseUrl]);
  try {
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: token, maxRetries: 0 });
    const reply = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
    assert.equal(reply.choices[0]?.finish_reason, 'stop');
    assert.equal(e.upstream.received.length, 1, 'the request reached the upstream');
  } finally {
    await gw.stop();
  }
}

async function upAnswersWithDemoUpstream(e: Env): Promise<void> {
  const token = ok(await e.run(['token'])).trim();
  const env = { OPENROUTER_API_KEY: '', SWITCHBOARD_UPSTREAM_KEY: '' };
  const up = await e.serve(['up', '--port', '0'], { env });
  try {
    const client = new OpenAI({ baseURL: `${up.url}/v1`, apiKey: token, maxRetries: 0 });
    const reply = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }] });
    assert.ok(reply.choices[0]?.message.content, 'the offline demo upstream answered');
  } finally {
    await up.stop();
  }
}

async function guardDetectsFromStdin(e: Env): Promise<void> {
  const out = ok(await e.run(['guard', 'detect'], { stdin: 'write to ana.lopez@acme-corp.de today' }));
  const found = (JSON.parse(out) as { entities: Array<{ class: string }> }).entities.map((x) => x.class);
  assert.deepEqual(found, ['EMAIL']);
}

async function directoryImportLoadsAFile(e: Env): Promise<void> {
  const file = join(e.dataDir, 'org.yaml');
  writeFileSync(file, 'nodes:\n  - { id: acme, kind: org, name: Acme }\n  - { id: finance, kind: role, name: Finance }\n  - { id: ana, kind: person, name: Ana Lopez, parent: acme, roles: [finance] }\n');
  const m = /: (\d+) created, (\d+) updated/.exec(ok(await e.run(['directory', 'import', file])));
  assert.ok(m, 'import reports what it wrote');
  assert.equal(Number(m[1]) + Number(m[2]), 3);
}

async function controllerServesOpenApi(e: Env): Promise<void> {
  const ctl = await e.serve(['controller', '--port', '0']);
  e.state.set('controller', ctl.url);
  const res = await fetch(`${ctl.url}/openapi.json`);
  assert.equal(res.status, 200);
  const doc = (await res.json()) as { openapi?: string; paths?: Record<string, unknown> };
  assert.match(doc.openapi ?? '', /^3\./);
  assert.ok(doc.paths?.['/api/v1/audit/ingest'], 'the audit routes are documented');
  // Left running for `enrol`; stopped after the last case.
  stopLater.push(ctl);
}

async function enrolAgainstTheController(e: Env): Promise<void> {
  const url = e.state.get('controller');
  assert.ok(url, 'the controller case ran first');
  const code = ok(await e.run(['controller', 'enrol-code', '--subject', 'ana'])).trim();
  const out = await e.run(['enrol', '--controller', url, '--code', code]);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stdout + out.stderr, /enrol/i);
}

async function loginAsksTheController(e: Env): Promise<void> {
  const url = e.state.get('controller');
  assert.ok(url, 'the controller case ran first');
  // No identity provider is configured on this controller: a clear one-line refusal, no stack trace.
  const out = await e.run(['login', '--controller', url, '--device'], { timeoutMs: 30_000 });
  assert.equal(out.code, 2, `${out.stdout}\n${out.stderr}`);
  assert.match(out.stderr, /^switchboard: /);
  assert.doesNotMatch(out.stderr, /\n\s+at /);
}

async function secretsStoreAndList(e: Env): Promise<void> {
  assert.match(ok(await e.run(['secrets', 'set', 'dist-test-key'], { stdin: 'sk-dist-test-value' })), /stored dist-test-key/);
  const listed = ok(await e.run(['secrets', 'list']));
  assert.match(listed, /dist-test-key/);
  assert.doesNotMatch(listed, /sk-dist-test-value/, 'names only, never values');
}

async function doctorReportsChecks(e: Env): Promise<void> {
  const out = await e.run(['doctor', '--json'], { timeoutMs: 60_000 });
  const report = JSON.parse(out.stdout) as { checks: Array<{ id: string; status: string }> };
  assert.deepEqual(report.checks.find((c) => c.id === 'node')?.status, 'pass', out.stderr);
}

async function meshMcpListsItsTools(e: Env): Promise<void> {
  // The stdio MCP server from dist/, driven by the MCP SDK client: tools listed before any controller.
  const client = new Client({ name: 'dist-test', version: '1' });
  try {
    await client.connect(new StdioClientTransport({ command: process.execPath, args: ['dist/bin/switchboard.js', 'mesh', 'mcp', '--data-dir', e.dataDir], stderr: 'pipe' }));
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['fetch_status', 'notify', 'request_approval', 'send_task']);
  } finally {
    await client.close().catch(() => undefined);
  }
}

async function demoRunsOffline(): Promise<void> {
  // Its own fresh data dir, as a new user runs it; the offline demo upstream (the key is blanked).
  const dir = mkdtempSync(join(tmpdir(), 'sb-dist-demo-'));
  try {
    const out = ok(await runCli(['demo', '--data-dir', dir, '--deadline', '1'], { env: { OPENROUTER_API_KEY: '', SWITCHBOARD_UPSTREAM_KEY: '' }, timeoutMs: 60_000 }));
    assert.match(out, /^left the machine: .*EMAIL_[0-9A-F]{8}/m);
    assert.match(out, /^came back: .*maria\.schmidt@posteo\.de/m);
    assert.match(out, /^downshift: .*sent it to google\/gemini-2\.5-flash/m);
    assert.match(out, /^escalation: .*escalated to cfo/m);
    assert.match(out, /^decision:\s+approved by cfo$/m);
    assert.match(out, /^controller\.db: .*OK: every chain is intact/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function agentNeedsAnEnrolment(e: Env): Promise<void> {
  // A fresh data dir on its own (the shared one was enrolled above): a one-line refusal, no stack trace.
  const dir = mkdtempSync(join(tmpdir(), 'sb-dist-agent-'));
  try {
    const out = await runCli(['agent', '--data-dir', dir]);
    assert.equal(out.code, 2, out.stderr);
    assert.match(out.stderr, /^switchboard: .*not enrolled/);
    assert.doesNotMatch(out.stderr, /\n\s+at /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  await agentRunsARoutedTask(e);
}

/** On the data dir enrolled above (as ana): registers, runs a routed task through the ACP test agent, stops on SIGTERM. */
async function agentRunsARoutedTask(e: Env): Promise<void> {
  const url = e.state.get('controller');
  assert.ok(url, 'the controller case ran first');
  const admin = ok(await e.run(['controller', 'admin-token'])).trim();
  const acp = `"${process.execPath}" --import tsx test/installers/acp-test-agent.ts`;
  const child = spawn(process.execPath, [DIST_CLI, 'agent', '--data-dir', e.dataDir, '--acp-command', acp, '--allow-kinds', 'read,execute,delete'], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    for (let i = 0; i < 300 && !/registered as/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(stderr, /\[agent\] registered as \S+ with http/, stderr);
    const sender = new MeshClient({ url, token: () => admin });
    const routed = await sender.route({ target: 'ana-goose', task: { title: 'dist check', text: 'Use ledger.csv' } });
    let status: TaskStatus | undefined;
    for (let i = 0; i < 300; i++) {
      status = (await sender.status(routed.taskId)) as TaskStatus;
      if (status.state === 'completed' || status.state === 'failed' || status.state === 'rejected') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status?.state, 'completed', `${JSON.stringify(status)}\n${stderr}`);
    assert.match(status.targets[0]!.artifacts[0]!.text ?? '', /execute:allow_once read:allow_once delete:allow_once/);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, `Ctrl-C / SIGTERM stops the worker cleanly\n${stderr}`);
}

const stopLater: ServedCli[] = [];

describe('the built CLI (dist/bin/switchboard.js)', () => {
  let env: Env;
  before(async () => {
    assertDistFresh();
    const dataDir = mkdtempSync(join(tmpdir(), 'sb-dist-'));
    const upstream = await startScriptedUpstream();
    const base = { SWITCHBOARD_GATEWAY_PORT: '' };
    env = {
      dataDir,
      upstream,
      state: new Map(),
      run: (args, opts = {}) => runCli([...args, '--data-dir', dataDir], { ...opts, env: { ...base, ...opts.env } }),
      serve: (args, opts = {}) => serveCli([...args, '--data-dir', dataDir], { env: { ...base, ...opts.env } }),
    };
  });
  after(async () => {
    for (const s of stopLater) await s.stop();
    await env.upstream.close();
    rmSync(env.dataDir, { recursive: true, force: true });
  });

  test('every command group listed by --help has a case here', async () => {
    const help = ok(await runCli(['--help']));
    const listed = [...help.split('Commands:')[1]!.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1]!).filter((g) => g !== 'help');
    assert.ok(listed.length >= 10, `parsed the command list: ${listed.join(', ')}`);
    assert.deepEqual(listed.filter((g) => !groups.some((c) => c.group === g)), [], 'add a case to `groups` in test/dist/cli.test.ts');
  });

  for (const { group, action } of groups) {
    test(`${group}: --help and one real action`, async () => {
      const help = ok(await env.run([group, '--help']));
      assert.match(help, new RegExp(`^Usage: switchboard ${group}\\b`));
      await action(env);
    });
  }
});
