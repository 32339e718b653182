import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { PassThrough, Writable } from 'node:stream';
import { Command } from 'commander';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { detect } from '../../gateway/guard/detect.js';
import { maskText } from '../../gateway/guard/mask-request.js';
import { TenantKeys } from '../../gateway/guard/pseudonym.js';
import { registerGuardCommands } from '../../bin/commands/guard.js';
import { CliError } from '../../bin/cli-support.js';

const CLI = ['--import', 'tsx', 'bin/switchboard.ts'];
const EMAIL = 'alice.johnson@acme-corp.com';
const KEY = 'sk-proj-abcDEF1234567890abcdefGHIJ';

function run(args: string[], stdin = ''): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(process.execPath, [...CLI, ...args], { cwd: process.cwd() }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
    child.stdin!.end(stdin);
  });
}

/** Runs the guard commands in-process with their own streams (fast: no tsx start-up per case). */
async function guardCli(args: string[], stdin = ''): Promise<{ stdout: string; exitCode: number | undefined }> {
  const chunks: string[] = [];
  let exitCode: number | undefined;
  const input = new PassThrough();
  input.end(stdin);
  const stdout = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  const program = new Command().exitOverride();
  registerGuardCommands(program, { stdin: input, stdout, setExitCode: (code) => (exitCode = code) });
  await program.parseAsync(['node', 'switchboard', ...args]);
  return { stdout: chunks.join(''), exitCode };
}

describe('switchboard guard CLI', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-guard-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('detect --jsonl writes one entities line per input line', async () => {
    const input = [JSON.stringify({ text: `mail ${EMAIL}` }), '', JSON.stringify({ text: 'version 1.2.3, nothing else' })].join('\n');
    const r = await guardCli(['guard', 'detect', '--jsonl', '--data-dir', dir], input);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines, [
      { entities: [{ start: 5, end: 5 + EMAIL.length, class: 'EMAIL', score: lines[0].entities[0].score, detector: lines[0].entities[0].detector }] },
      { entities: [] },
    ]);
  });

  it('mask reads files and uses the data dir\'s key, so pseudonyms match the gateway\'s', async () => {
    const text = `Customer ${EMAIL} pasted ${KEY}`;
    writeFileSync(join(dir, 'a.txt'), text);
    writeFileSync(join(dir, 'b.txt'), 'no secrets here');
    const r = await guardCli(['guard', 'mask', join(dir, 'a.txt'), join(dir, 'b.txt'), '--data-dir', dir]);
    const [a, b] = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.match(a.masked, /^Customer EMAIL_[0-9A-F]{8} pasted API_KEY_[0-9A-F]{8}$/);
    assert.deepEqual(a.redactions, { EMAIL: 1, API_KEY: 1 });
    assert.equal(a.file, join(dir, 'a.txt'));
    assert.deepEqual(b, { file: join(dir, 'b.txt'), masked: 'no secrets here', redactions: {} });
    // Same key file, same tenant (config default "local") → the same pseudonyms the gateway uses.
    const expected = maskText(text, { detect, modeFor: () => 'mask', pseudonymizer: TenantKeys.fromDataDir(dir).pseudonymizer('local') });
    assert.equal(a.masked, expected.masked);
    const other = await guardCli(['guard', 'mask', '--tenant', 'globex', join(dir, 'a.txt'), '--data-dir', dir]);
    assert.notEqual(JSON.parse(other.stdout).masked, a.masked);
  });

  it('mask --jsonl with a blocking policy file reports where, exit code 1', async () => {
    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, 'defaultMode: mask\nclasses:\n  API_KEY: block\n');
    const input = [JSON.stringify({ text: `mail ${EMAIL}` }), JSON.stringify({ text: `key ${KEY}` })].join('\n');
    const r = await guardCli(['guard', 'mask', '--jsonl', '--policy', policy, '--data-dir', dir], input);
    assert.equal(r.exitCode, 1);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.deepEqual(Object.keys(lines[0]), ['masked']);
    assert.match(lines[0].masked, /^mail EMAIL_[0-9A-F]{8}$/);
    assert.deepEqual(lines[1], { blocked: { class: 'API_KEY', start: 4, end: 4 + KEY.length } });
  });

  it('user errors are clear CliErrors', async () => {
    await assert.rejects(guardCli(['guard', 'detect', '--jsonl', '--data-dir', dir], 'not json\n'), (e: Error) =>
      e instanceof CliError && e.message === 'stdin:1: not valid JSON (expected {"text": "..."})');
    await assert.rejects(guardCli(['guard', 'mask', join(dir, 'missing.txt'), '--data-dir', dir]), (e: Error) =>
      e instanceof CliError && /^cannot read .*missing\.txt: ENOENT$/.test(e.message));
    const policy = join(dir, 'bad-policy.json');
    writeFileSync(policy, JSON.stringify({ defaultMode: 'hide' }));
    await assert.rejects(guardCli(['guard', 'mask', '--policy', policy, '--data-dir', dir], 'x'), (e: Error) =>
      e instanceof CliError && e.message.endsWith('bad-policy.json: invalid guard policy: defaultMode: must be one of "off", "detect", "mask", "block" (got "hide")'));
  });

  it('through the real binary, a user error is one stderr line and exit 2', async () => {
    const bad = await run(['guard', 'detect', '--jsonl', '--data-dir', dir], '{"text": 1}\n');
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'switchboard: stdin:1: expected an object with a string "text" field\n');
    assert.equal(bad.stdout, '');
  });
});

describe('privacy_guard MCP server over stdio', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-guard-mcp-'));
  let client: Client;

  before(async () => {
    client = new Client({ name: 'guard-test', version: '1.0.0' });
    await client.connect(new StdioClientTransport({
      command: process.execPath,
      args: [...CLI, 'guard', 'mcp', '--data-dir', dir],
      cwd: process.cwd(),
      stderr: 'pipe',
    }), { timeout: 300_000 }); // Start-up through tsx can be slow on a loaded CI machine.
  });
  after(async () => {
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the tools', async () => {
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name).sort(), ['privacy_guard.detect', 'privacy_guard.process', 'privacy_guard.reidentify']);
  });

  it('detect returns entities', async () => {
    const res = await client.callTool({ name: 'privacy_guard.detect', arguments: { text: `mail ${EMAIL}` } });
    const entities = (res.structuredContent as { entities: Array<{ class: string; start: number; end: number }> }).entities;
    assert.deepEqual(entities.map((e) => [e.class, e.start, e.end]), [['EMAIL', 5, 5 + EMAIL.length]]);
  });

  it('process masks and returns a mapRef that reidentify resolves', async () => {
    const res = await client.callTool({ name: 'privacy_guard.process', arguments: { text: `to ${EMAIL} with ${KEY}` } });
    assert.equal(res.isError, undefined);
    const { masked, mapRef } = res.structuredContent as { masked: string; mapRef: string };
    assert.equal(masked.includes(EMAIL) || masked.includes(KEY), false);
    assert.match(mapRef, /^map_/);
    const back = await client.callTool({ name: 'privacy_guard.reidentify', arguments: { text: `Reply: ${masked}`, mapRef } });
    assert.deepEqual(back.structuredContent, { text: `Reply: to ${EMAIL} with ${KEY}` });
  });

  it('process honours a policy argument and reports bad ones as tool errors', async () => {
    const blocked = await client.callTool({
      name: 'privacy_guard.process',
      arguments: { text: `key ${KEY}`, policy: { defaultMode: 'mask', classes: { API_KEY: 'block' } } },
    });
    assert.equal(blocked.isError, true);
    const text = (blocked.content as Array<{ text: string }>)[0]!.text;
    assert.match(text, /^Blocked by privacy policy: API_KEY found in the text at characters 4-/);
    assert.equal(text.includes(KEY), false);
    const invalid = await client.callTool({ name: 'privacy_guard.process', arguments: { text: 'x', policy: { defaultMode: 'nope' } } });
    assert.equal(invalid.isError, true);
    assert.match((invalid.content as Array<{ text: string }>)[0]!.text, /^Invalid policy: defaultMode: must be one of/);
    const unknown = await client.callTool({ name: 'privacy_guard.reidentify', arguments: { text: 'x', mapRef: 'map_AAAAAAAAAAAAAAAA' } });
    assert.equal(unknown.isError, true);
  });
});
