/**
 * `switchboard demo`: a narrated run of the cross-agent approval flow on this machine, no cloud
 * key needed. It starts what `switchboard up` starts (embedded controller + enrolled gateway, on a
 * fresh temp data dir unless --data-dir is given), then walks through: an agent's request masked on
 * its way out and re-identified on its way back, a cache hit, a Marketing → Finance approval that
 * escalates on a short deadline and is approved, costs, and `audit verify`. Without an upstream key
 * the gateway answers through the offline demo upstream (a stand-in for OpenRouter); with
 * OPENROUTER_API_KEY set the same run goes to the real upstream.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { startUp, type RunningUp } from './up.js';
import { CliError } from '../cli-support.js';
import { MeshClient } from '../../mesh/client.js';
import type { ApprovalStatus, WorkItem } from '../../mesh/contracts.js';
import { DEFAULT_RULES_FILE } from '../../gateway/downshift/active-rules.js';
import { DEMO_RECEIVED_HEADER } from '../../gateway/demo-upstream.js';
import { readAuditSource } from '../../gateway/audit/sources.js';
import { verifyChains } from '../../audit/verify-chain.js';

interface DemoFlags {
  dataDir?: string;
  model: string;
  deadline: string;
}

const PROMPT = 'Draft a thank-you mail to our top customer Maria Schmidt (maria.schmidt@posteo.de) about the spring loyalty campaign.';
const BUDGET = {
  campaign: 'Spring loyalty push',
  budgetUsd: 18500,
  audienceNote: 'Seed list curated with our top customer Maria Schmidt (maria.schmidt@posteo.de, +49 30 901820).',
};

type Say = (line: string) => void;

interface ChatMessage {
  role: 'system' | 'user';
  content: string;
}

interface ChatReply {
  status: number;
  headers: Headers;
  content: string;
  /** The model that answered, as the upstream reports it. */
  model: string;
  error?: string;
}

async function chat(up: RunningUp, model: string, messages: ChatMessage[] = [{ role: 'user', content: PROMPT }]): Promise<ChatReply> {
  const res = await fetch(`${up.gateway.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${up.gateway.server.services.localToken}`, 'content-type': 'application/json' },
    // temperature 0: the gateway's default cache mode only stores deterministic requests.
    body: JSON.stringify({ model, temperature: 0, messages }),
  });
  const body = (await res.json()) as { choices?: Array<{ message?: { content?: string } }>; model?: string; error?: { message?: string } };
  return {
    status: res.status,
    headers: res.headers,
    content: body.choices?.[0]?.message?.content ?? '',
    model: body.model ?? '?',
    ...(body.error?.message ? { error: body.error.message } : {}),
  };
}

/** Goose's session-naming request (gateway/downshift/task-kind.ts recognises it as a "title" task). */
const TITLE_REQUEST: ChatMessage[] = [
  { role: 'system', content: 'Generate a short title (four words or less) for the conversation below. Reply with the title only.' },
  { role: 'user', content: 'Spring loyalty campaign budget' },
];

function leftTheMachine(headers: Headers): string | undefined {
  const raw = headers.get(DEMO_RECEIVED_HEADER);
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as string;
  } catch {
    return raw;
  }
}

async function gatewayPart(up: RunningUp, flags: DemoFlags, localRules: boolean, say: Say): Promise<void> {
  say('== 1. An agent calls a model through the gateway ==');
  say(`upstream:            ${up.gateway.demo ? 'offline demo upstream (a local stand-in for OpenRouter: it echoes what it received)' : 'the configured real upstream (OPENROUTER_API_KEY is set)'}`);
  say(`agent sent:          ${PROMPT}`);
  const first = await chat(up, flags.model);
  if (first.status !== 200) throw new CliError(`the gateway answered ${first.status}: ${first.error ?? ''}`);
  const sent = leftTheMachine(first.headers);
  say(`left the machine:    ${sent ?? '(a real upstream does not echo; see the audit trail for the masked classes)'}`);
  say(`came back:           ${first.content}`);
  say(`re-identified:       pseudonyms in the answer were swapped back to the real values on this machine`);
  say(`model:               asked for ${flags.model}, answered by ${first.model}`);
  say(`cost:                $${first.headers.get('x-switchboard-cost-usd') ?? '?'}   cache: ${first.headers.get('x-switchboard-cache') ?? 'n/a'}`);
  const second = await chat(up, flags.model);
  say(`same request again:  cache ${second.headers.get('x-switchboard-cache') ?? 'n/a'}, cost $${second.headers.get('x-switchboard-cost-usd') ?? '?'} (a hit is answered locally, nothing leaves the machine)`);
  const title = await chat(up, flags.model, TITLE_REQUEST);
  if (title.status !== 200) throw new CliError(`the gateway answered ${title.status}: ${title.error ?? ''}`);
  const shifted = title.model !== flags.model;
  say(`downshift:           Goose's session-title request asked for ${flags.model}; ${shifted ? `a downshift rule (${localRules ? `${DEFAULT_RULES_FILE} in the data dir, which overrides the bundle's` : `from ${up.role}'s signed bundle`}) sent it to ${title.model} (economy tier)` : 'no rule moved it'}, cost $${title.headers.get('x-switchboard-cost-usd') ?? '?'}`);
}

async function meshPart(up: RunningUp, deadlineSeconds: number, say: Say): Promise<void> {
  const controller = up.controller!;
  const url = controller.url;
  const agents = new Map<string, MeshClient>();
  for (const [person, role, agentId] of [['marketer', 'marketing', 'max-goose'], ['accountant', 'finance', 'avery-goose'], ['cfo', 'finance', 'frances-goose']] as const) {
    const { token } = await controller.services.tokens.mintAccessToken({ subject: person, roles: [role], authMethod: 'demo' });
    const client = new MeshClient({ url, token: () => token });
    await client.register({ agentId, role, load: person === 'cfo' ? 3 : 0, skills: role === 'finance' ? ['budget-review'] : ['campaign-brief'] });
    agents.set(person, client);
  }
  say('');
  say('== 2. Marketing asks Finance to approve a campaign budget (agent mesh) ==');
  say(`agents registered:   max-goose (Max Marsh, Marketing), avery-goose (Avery Ames, Finance), frances-goose (Frances Finch, CFO)`);
  say(`Marketing sends:     ${JSON.stringify(BUDGET)}`);
  const asked = await agents.get('marketer')!.requestApproval({ target: 'finance', stepId: 'campaign-budget', payload: BUDGET, deadlineSeconds });
  say(`routing:             the router chose ${asked.approver} (Finance), approval ${asked.id}, deadline ${deadlineSeconds}s per level`);
  const items: WorkItem[] = [];
  for (let i = 0; i < 10 && !items.some((it) => it.approvalId === asked.id); i++) items.push(...(await agents.get('accountant')!.poll('avery-goose', 2_000, 5)).items);
  const ask = items.find((it) => it.approvalId === asked.id);
  if (!ask) throw new CliError('the approval never reached Finance');
  say(`Finance's agent saw: ${ask.context ?? ''}`);
  say(`masked for Finance:  ${ask.redactions.map((r) => `${r.class} x${r.count}`).join(', ') || 'nothing'}`);
  await agents.get('accountant')!.ack(ask.deliveryId, ask.leaseId);
  say(`Avery does not decide; waiting ${deadlineSeconds}s for the deadline...`);
  let status: ApprovalStatus | undefined;
  const until = Date.now() + deadlineSeconds * 1000 + 15_000;
  while (Date.now() < until) {
    status = (await agents.get('marketer')!.status(asked.id)) as ApprovalStatus;
    if (status.approver === 'cfo') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  if (status?.approver !== 'cfo') throw new CliError('the approval did not escalate');
  say(`escalation:          deadline passed at accountant; escalated to cfo (level ${status.level})`);
  const cfoItem = (await agents.get('cfo')!.poll('frances-goose', 3_000, 5)).items.find((it) => it.approvalId === asked.id);
  if (!cfoItem?.payloadHash) throw new CliError('the CFO\'s agent was not sent the request');
  const decided = await agents.get('cfo')!.decide(asked.id, { decision: 'approved', payloadHash: cfoItem.payloadHash, notes: 'within the annual plan' });
  say(`decision:            ${decided.state} by ${decided.approver}`);
}

function auditPart(dataDir: string, say: Say): boolean {
  say('');
  say('== 3. audit verify ==');
  let allOk = true;
  for (const file of ['gateway.db', 'controller.db']) {
    const path = join(dataDir, file);
    if (!existsSync(path)) continue;
    const source = readAuditSource(path);
    const report = verifyChains(source.events);
    const ok = report.ok && source.unreadable.length === 0 && source.columnEdits.length === 0;
    allOk &&= ok;
    const actions = new Map<string, number>();
    for (const e of source.events) actions.set(e.action, (actions.get(e.action) ?? 0) + 1);
    const usd = source.events.reduce((s, e) => s + (e.cost?.usd ?? 0), 0);
    say(`${file}: ${report.events} events in ${report.chains.length} chain(s), recorded cost $${usd.toFixed(6)}: ${ok ? 'OK: every chain is intact' : `PROBLEMS: ${report.problems.map((p) => p.message).join('; ')}`}`);
    say(`  actions: ${[...actions].map(([a, n]) => `${a} x${n}`).join(', ')}`);
  }
  return allOk;
}

export async function runDemo(flags: DemoFlags, say: Say): Promise<boolean> {
  const deadlineSeconds = Number(flags.deadline);
  if (!Number.isFinite(deadlineSeconds) || deadlineSeconds < 1 || deadlineSeconds > 120) throw new CliError(`--deadline must be 1-120 seconds (got "${flags.deadline}")`);
  const dataDir = flags.dataDir ?? mkdtempSync(join(tmpdir(), 'switchboard-demo-'));
  say(`data dir:            ${dataDir}`);
  // Downshift rules come with Marketing's signed bundle (titles to the economy tier), unless the data dir has its own.
  const localRules = existsSync(join(dataDir, DEFAULT_RULES_FILE));
  const up = await startUp({ dataDir, port: '0', controllerPort: '0', role: 'marketing', logLevel: 'error' });
  try {
    say(`gateway:             ${up.gateway.url}   controller: ${up.controllerUrl} (embedded, SQLite)   enrolled as ${up.subject} (${up.role})`);
    say('');
    await gatewayPart(up, flags, localRules, say);
    await meshPart(up, deadlineSeconds, say);
  } finally {
    await up.stop();
  }
  return auditPart(dataDir, say);
}

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('Narrated offline run of the whole flow: masking, re-identification, cache, a cross-agent approval with escalation, costs, audit verify')
    .option('--data-dir <dir>', 'where the demo keeps its state (default: a fresh temp directory)')
    .option('--model <model>', 'model the agent asks for', 'openai/gpt-4.1')
    .option('--deadline <seconds>', 'approval deadline per escalation level', '2')
    .addHelpText('after', '\nNo cloud key needed: without OPENROUTER_API_KEY the gateway answers through a local stand-in for OpenRouter.')
    .action(async (flags: DemoFlags) => {
      const ok = await runDemo(flags, (line) => process.stdout.write(`${line}\n`));
      if (!ok) process.exitCode = 1;
    });
}
