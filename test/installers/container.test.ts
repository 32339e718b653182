/**
 * The org-server container files. Docker cannot run here, so: the Dockerfile and compose file are
 * checked for syntax and for what they promise (multi-stage, non-root, health check, PostgreSQL
 * wired in), and the image's ENTRYPOINT + CMD run outside a container against the real test
 * PostgreSQL, with the image's own HEALTHCHECK command judging it healthy.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import pg from 'pg';
import { TEST_PG_URL } from '../controller/backends.js';

const INSTRUCTIONS = new Set(['FROM', 'RUN', 'CMD', 'LABEL', 'EXPOSE', 'ENV', 'ADD', 'COPY', 'ENTRYPOINT', 'VOLUME', 'USER', 'WORKDIR', 'ARG', 'ONBUILD', 'STOPSIGNAL', 'HEALTHCHECK', 'SHELL']);

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile → instructions (comments dropped, `\` continuations joined); throws on an unknown one. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!pending && (line === '' || line.startsWith('#'))) continue;
    pending = pending ? `${pending} ${line}` : line;
    if (pending.endsWith('\\')) {
      pending = pending.slice(0, -1).trim();
      continue;
    }
    const m = /^([A-Za-z]+)\s+(.*)$/.exec(pending);
    if (!m || !INSTRUCTIONS.has(m[1]!.toUpperCase())) throw new Error(`not a Dockerfile instruction: ${pending}`);
    out.push({ op: m[1]!.toUpperCase(), args: m[2]! });
    pending = '';
  }
  assert.equal(pending, '', 'dangling line continuation');
  return out;
}

const execArray = (args: string): string[] => {
  const parsed = JSON.parse(args) as unknown;
  assert.ok(Array.isArray(parsed) && parsed.every((a) => typeof a === 'string'), `exec form JSON array: ${args}`);
  return parsed as string[];
};

describe('org server container', () => {
  const dockerfile = parseDockerfile(readFileSync('Dockerfile', 'utf8'));
  const final = dockerfile.slice(dockerfile.map((i) => i.op).lastIndexOf('FROM'));
  const one = (op: string) => final.filter((i) => i.op === op).at(-1);

  it('Dockerfile: valid instructions, multi-stage, small base, non-root, health check, exec-form entrypoint', () => {
    assert.ok(dockerfile.filter((i) => i.op === 'FROM').length >= 2, 'multi-stage build keeps compilers out of the image');
    assert.match(final[0]!.args, /-slim\b|alpine|distroless/, 'small runtime base');
    const user = one('USER')?.args;
    assert.ok(user && !/^(root|0)(:|$)/.test(user), `runs as non-root (USER ${user})`);
    const health = one('HEALTHCHECK')!;
    assert.ok(health, 'has a HEALTHCHECK');
    assert.ok(execArray(health.args.slice(health.args.indexOf('CMD') + 3).trim()).length > 1);
    assert.deepEqual(execArray(one('ENTRYPOINT')!.args).slice(0, 2), ['node', 'dist/bin/switchboard.js']);
    assert.deepEqual(execArray(one('CMD')!.args).slice(0, 2), ['controller', 'serve']);
    assert.ok(!final.some((i) => i.op === 'RUN' && /apt-get install.*g\+\+/.test(i.args)), 'no compiler in the runtime stage');
  });

  it('Dockerfile: the build stage copies every folder and file `npm run build` reads', () => {
    const build = dockerfile.slice(0, dockerfile.map((i) => i.op).lastIndexOf('FROM'));
    const copied = new Set(build.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from')).flatMap((i) => i.args.split(/\s+/).slice(0, -1)));
    const tsconfig = JSON.parse(readFileSync('tsconfig.build.json', 'utf8')) as { include: string[] };
    const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
    const buildReads = [...tsconfig.include, 'tsconfig.json', 'tsconfig.build.json', 'tsconfig.console.json', /node (\S+)\//.exec(scripts.build ?? '')?.[1] ?? 'scripts'];
    for (const path of buildReads) assert.ok(copied.has(path), `the build stage must COPY ${path} (a fresh image build would fail without it)`);
  });

  it('compose: controller on PostgreSQL, waits for a healthy database, health-checked, loopback port, read-only', () => {
    const compose = parseYaml(readFileSync('compose.yaml', 'utf8')) as {
      services: Record<string, { image?: string; build?: string; depends_on?: Record<string, { condition: string }>; environment?: Record<string, string>; healthcheck?: { test: string[] }; ports?: string[]; read_only?: boolean; volumes?: string[] }>;
      volumes: Record<string, unknown>;
    };
    const { controller, postgres } = compose.services;
    assert.ok(controller && postgres);
    assert.match(postgres.image ?? '', /^postgres:\d+/);
    assert.equal(controller.depends_on?.postgres?.condition, 'service_healthy');
    assert.match(controller.environment?.SWITCHBOARD_CONTROLLER_DB ?? '', /^postgres:\/\/switchboard:.*@postgres:5432\/switchboard$/);
    assert.ok(controller.healthcheck?.test.length && postgres.healthcheck?.test.length);
    assert.deepEqual(controller.ports, ['127.0.0.1:8788:8788']);
    assert.equal(controller.read_only, true);
    for (const v of [...(controller.volumes ?? []), ...(postgres.volumes ?? [])]) assert.ok(v.split(':')[0]! in compose.volumes, `named volume ${v}`);
  });

  it("the image's ENTRYPOINT + CMD run outside a container on PostgreSQL, and its HEALTHCHECK passes", async () => {
    const schema = `sb_container_${randomBytes(4).toString('hex')}`;
    const dataDir = mkdtempSync(join(tmpdir(), 'sb-container-'));
    // The image runs dist/bin/switchboard.js; from source the same CLI is bin/switchboard.ts under tsx.
    const cmd = execArray(one('CMD')!.args).map((a, i, all) => (all[i - 1] === '--port' ? '0' : all[i - 1] === '--data-dir' ? dataDir : all[i - 1] === '--host' ? '127.0.0.1' : a));
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/switchboard.ts', ...cmd], {
      env: { ...process.env, SWITCHBOARD_CONTROLLER_DB: `${TEST_PG_URL}?schema=${schema}` },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 60_000;
      let url: string | undefined;
      while (!url && Date.now() < deadline && child.exitCode === null) {
        url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*controller listening/.exec(out)?.[1];
        if (!url) await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(url, `controller started: ${out.slice(-2000)}`);
      assert.match(out, /"storage":"postgres/);
      const health = one('HEALTHCHECK')!.args;
      const check = execArray(health.slice(health.indexOf('CMD') + 3).trim());
      const port = new URL(url).port;
      const ok = await promisify(execFile)(process.execPath, check.slice(1), { env: { ...process.env, SWITCHBOARD_CONTROLLER_PORT: port } }).then(() => 0, (e: { code: number }) => e.code);
      assert.equal(ok, 0, 'HEALTHCHECK command passes');
      const bad = await promisify(execFile)(process.execPath, check.slice(1), { env: { ...process.env, SWITCHBOARD_CONTROLLER_PORT: '9' } }).then(() => 0, (e: { code: number }) => e.code);
      assert.equal(bad, 1, 'HEALTHCHECK fails when nothing answers');
      child.kill('SIGTERM');
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
      const client = new pg.Client({ connectionString: TEST_PG_URL });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    }
  });
});
