import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

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

describe('switchboard guard CLI', { concurrency: true }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-guard-cli-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('detect --jsonl writes one entities line per input line', async () => {
    const input = [JSON.stringify({ text: `mail ${EMAIL}` }), '', JSON.stringify({ text: 'version 1.2.3, nothing else' })].join('\n');
    const r = await run(['guard', 'detect', '--jsonl', '--data-dir', dir], input);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(lines, [
      { entities: [{ start: 5, end: 5 + EMAIL.length, class: 'EMAIL', score: lines[0].entities[0].score, detector: lines[0].entities[0].detector }] },
      { entities: [] },
    ]);
  });

  it('mask reads files, gives stable pseudonyms per data dir, and honours a policy file', async () => {
    const file = join(dir, 'ticket.txt');
    writeFileSync(file, `Customer ${EMAIL} pasted ${KEY}`);
    const a = await run(['guard', 'mask', file, '--data-dir', dir]);
    const b = await run(['guard', 'mask', '--jsonl', '--data-dir', dir], JSON.stringify({ text: `Customer ${EMAIL} pasted ${KEY}` }));
    assert.equal(a.code, 0, a.stderr);
    const masked = JSON.parse(a.stdout);
    assert.match(masked.masked, /^Customer EMAIL_[0-9A-F]{8} pasted API_KEY_[0-9A-F]{8}$/);
    assert.deepEqual(masked.redactions, { EMAIL: 1, API_KEY: 1 });
    assert.deepEqual(JSON.parse(b.stdout), { masked: masked.masked });

    const policy = join(dir, 'policy.yaml');
    writeFileSync(policy, 'defaultMode: mask\nclasses:\n  API_KEY: block\n');
    const blocked = await run(['guard', 'mask', file, '--policy', policy, '--data-dir', dir]);
    assert.equal(blocked.code, 1);
    assert.deepEqual(JSON.parse(blocked.stdout), { blocked: { class: 'API_KEY', start: 44, end: 44 + KEY.length } });
  });

  it('user errors are one line and exit 2', async () => {
    const bad = await run(['guard', 'detect', '--jsonl', '--data-dir', dir], '{"text": 1}\n');
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'switchboard: stdin:1: expected an object with a string "text" field\n');
    const missing = await run(['guard', 'mask', join(dir, 'nope.txt'), '--data-dir', dir]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^switchboard: cannot read .*nope\.txt: ENOENT\n$/);
    const policy = join(dir, 'bad-policy.json');
    writeFileSync(policy, JSON.stringify({ defaultMode: 'hide' }));
    const badPolicy = await run(['guard', 'mask', '--policy', policy, '--data-dir', dir], 'x');
    assert.equal(badPolicy.code, 2);
    assert.match(badPolicy.stderr, /invalid guard policy: defaultMode: must be one of "off", "detect", "mask", "block" \(got "hide"\)/);
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
    }));
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
    assert.match(text, /^Blocked by privacy policy: API_KEY found in text at characters 4-/);
    assert.equal(text.includes(KEY), false);
    const invalid = await client.callTool({ name: 'privacy_guard.process', arguments: { text: 'x', policy: { defaultMode: 'nope' } } });
    assert.equal(invalid.isError, true);
    assert.match((invalid.content as Array<{ text: string }>)[0]!.text, /^Invalid policy: defaultMode: must be one of/);
    const unknown = await client.callTool({ name: 'privacy_guard.reidentify', arguments: { text: 'x', mapRef: 'map_AAAAAAAAAAAAAAAA' } });
    assert.equal(unknown.isError, true);
  });
});
