/**
 * `switchboard guard detect|mask|mcp|purge`: the Privacy Guard on the command line.
 * detect/mask read files or stdin and print JSON; with --jsonl they stream one {"text": …} object
 * per line and write one line per input, so a whole corpus goes through one process.
 */
import { createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { addDataDirOption, CliError, loadContext, type CommonOptions } from '../cli-support.js';
import { detect } from '../../gateway/guard/detect.js';
import { TenantKeys } from '../../gateway/guard/pseudonym.js';
import { Vault, loadOrCreateVaultKey } from '../../gateway/guard/vault.js';
import { maskText } from '../../gateway/guard/mask-request.js';
import { parseGuardPolicy, resolveGuardPolicy, type ResolvedGuardPolicy } from '../../gateway/guard/policy-modes.js';
import { createGuardMcpServer } from '../../gateway/guard/mcp-server.js';
import { openGatewayDb } from '../../platform/sqlite.js';
import { defaultGuardPolicy, type GuardPolicy } from '../../policies/guard-policy.js';

interface GuardOptions extends CommonOptions {
  jsonl?: boolean;
  policy?: string;
  tenant?: string;
}

function readPolicyFile(file: string | undefined): GuardPolicy {
  if (!file) return defaultGuardPolicy;
  let data: unknown;
  try {
    data = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new CliError(`cannot read policy ${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = parseGuardPolicy(data);
  if ('problems' in parsed) throw new CliError(`${file}: invalid guard policy: ${parsed.problems.join('; ')}`);
  return parsed.policy;
}

/** Where the commands read and write; tests pass their own streams. */
export interface GuardIo {
  stdin: Readable;
  stdout: Writable;
  setExitCode(code: number): void;
}

const processIo: GuardIo = { stdin: process.stdin, stdout: process.stdout, setExitCode: (code) => (process.exitCode = code) };

/** Writes one line, waiting when stdout is full so huge corpora do not pile up in memory. */
async function writeLine(io: GuardIo, value: unknown): Promise<void> {
  if (!io.stdout.write(`${JSON.stringify(value)}\n`)) {
    await new Promise<void>((resolve) => io.stdout.once('drain', resolve));
  }
}

function openInput(io: GuardIo, file: string | undefined): Readable {
  if (!file || file === '-') return io.stdin;
  const stream = createReadStream(file, { encoding: 'utf8' });
  return stream;
}

async function readAll(io: GuardIo, file: string | undefined): Promise<string> {
  const input = openInput(io, file);
  input.setEncoding('utf8');
  let text = '';
  try {
    for await (const chunk of input) text += chunk as string;
  } catch (err) {
    throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return text;
}

/** Calls `each` with the text of every JSONL input line; blank lines are skipped. */
async function forEachJsonlText(io: GuardIo, file: string | undefined, each: (text: string) => Promise<void>): Promise<void> {
  const name = file ?? 'stdin';
  const lines = createInterface({ input: openInput(io, file), crlfDelay: Infinity });
  let n = 0;
  try {
    for await (const line of lines) {
      n++;
      if (line.trim() === '') continue;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch {
        throw new CliError(`${name}:${n}: not valid JSON (expected {"text": "..."})`);
      }
      const text = (obj as { text?: unknown } | null)?.text;
      if (typeof obj !== 'object' || obj === null || typeof text !== 'string') {
        throw new CliError(`${name}:${n}: expected an object with a string "text" field`);
      }
      await each(text);
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError(`cannot read ${name}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Runs `handle` over every input (files or stdin), in JSONL or whole-text mode. */
async function eachInput(io: GuardIo, files: string[], jsonl: boolean | undefined, handle: (text: string) => Record<string, unknown>): Promise<void> {
  const inputs: Array<string | undefined> = files.length > 0 ? files : [undefined];
  for (const file of inputs) {
    if (jsonl) {
      await forEachJsonlText(io, file, (text) => writeLine(io, handle(text)));
    } else {
      const out = handle(await readAll(io, file));
      await writeLine(io, files.length > 1 ? { file, ...out } : out);
    }
  }
}

function entitiesOf(text: string, policy: ResolvedGuardPolicy) {
  return detect(text, policy.detectOptions)
    .filter((f) => policy.modeFor(f.class) !== 'off')
    .map((f) => ({ start: f.start, end: f.end, class: f.class, score: f.score, detector: f.detector }));
}

export function registerGuardCommands(program: Command, io: GuardIo = processIo): void {
  const guard = program
    .command('guard')
    .description('Privacy Guard: find and mask personal data and secrets; serve the guard as MCP tools');

  const inputHelp = '\nReads the files given, or stdin when none. Output is JSON on stdout, one object per input.';

  addDataDirOption(
    guard
      .command('detect')
      .description('Print the personal data and secrets found in text: {"entities":[{"start","end","class","score","detector"}]}')
      .argument('[files...]', 'files to scan (default: stdin)')
      .option('--jsonl', 'read one {"text": ...} object per line, write one result line per input')
      .option('--policy <file>', 'guard policy (JSON or YAML) for classes, allow/deny lists and custom classes')
      .addHelpText('after', `${inputHelp}\nExample: echo '{"text":"mail jane@corp.io"}' | switchboard guard detect --jsonl`),
  ).action(async (files: string[], flags: GuardOptions) => {
    const policy = resolveGuardPolicy(readPolicyFile(flags.policy));
    await eachInput(io, files, flags.jsonl, (text) => ({ entities: entitiesOf(text, policy) }));
  });

  addDataDirOption(
    guard
      .command('mask')
      .description('Replace personal data and secrets with deterministic pseudonyms: {"masked": "..."}')
      .argument('[files...]', 'files to mask (default: stdin)')
      .option('--jsonl', 'read one {"text": ...} object per line, write one {"masked": ...} line per input')
      .option('--policy <file>', 'guard policy (JSON or YAML): modes and pseudonym styles per class')
      .option('--tenant <id>', 'tenant whose pseudonym key is used (default: gateway.identity.tenantId)')
      .addHelpText('after', `${inputHelp}\nPseudonyms use the guard.master key from the secret store, so they match what the gateway sends upstream.\n` +
        'An input holding a class in "block" mode gives {"blocked": {"class","start","end"}} and exit code 1.'),
  ).action(async (files: string[], flags: GuardOptions) => {
    const ctx = loadContext(flags);
    const policy = resolveGuardPolicy(readPolicyFile(flags.policy));
    const pseudonymizer = TenantKeys.fromDataDir(ctx.dataDir.root).pseudonymizer(flags.tenant ?? ctx.config.gateway.identity.tenantId);
    await eachInput(io, files, flags.jsonl, (text) => {
      const { masked, result } = maskText(text, {
        detect, detectOptions: policy.detectOptions, modeFor: policy.modeFor, styleFor: policy.styleFor, pseudonymizer,
      });
      if (result.blocked) {
        io.setExitCode(1);
        return { blocked: { class: result.blocked.class, start: result.blocked.start, end: result.blocked.end } };
      }
      return flags.jsonl ? { masked } : { masked, redactions: result.redactions };
    });
  });

  addDataDirOption(
    guard
      .command('mcp')
      .description('Run the Privacy Guard MCP server on stdio (tools privacy_guard.detect, privacy_guard.process, privacy_guard.reidentify)')
      .option('--policy <file>', 'default guard policy for calls that give none')
      .option('--tenant <id>', 'tenant whose pseudonym key is used (default: gateway.identity.tenantId)')
      .addHelpText('after', '\nGoose extension: {type: stdio, cmd: switchboard, args: [guard, mcp]}. Pseudonym maps are kept encrypted in <data-dir>/gateway.db.'),
  ).action(async (flags: GuardOptions) => {
    const ctx = loadContext(flags);
    const policy = readPolicyFile(flags.policy);
    const db = openGatewayDb(ctx.dataDir.path('gateway.db'));
    const vault = new Vault(db, loadOrCreateVaultKey(ctx.dataDir.root));
    const server = createGuardMcpServer({
      detect,
      keys: TenantKeys.fromDataDir(ctx.dataDir.root),
      vault,
      tenantId: flags.tenant ?? ctx.config.gateway.identity.tenantId,
      policy,
      version: program.version() ?? '0.0.0',
    });
    const transport = new StdioServerTransport();
    transport.onclose = () => db.close();
    await server.connect(transport);
    // Ends when the client closes stdin.
    await new Promise<void>((resolve) => process.stdin.once('end', resolve).once('close', resolve));
    await server.close();
  });

  addDataDirOption(
    guard.command('purge').description('Delete expired pseudonym entries from the vault now (they are also purged automatically)'),
  ).action((flags: CommonOptions) => {
    const ctx = loadContext(flags);
    const db = openGatewayDb(ctx.dataDir.path('gateway.db'));
    try {
      const removed = new Vault(db, loadOrCreateVaultKey(ctx.dataDir.root)).purgeExpired();
      io.stdout.write(`${JSON.stringify({ removed })}\n`);
    } finally {
      db.close();
    }
  });
}
