/**
 * Which downshift rules the stage applies: the local override file, else the rules of the
 * caller's policy (the signed bundle's profile), else none; invalid bundle rules turn downshift
 * off for that bundle (logged once), never fail the request.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { DownshiftRules } from '../../policies/downshift/rules.js';
import { policyDownshiftRules } from '../../gateway/downshift/active-rules.js';
import { downshiftStage } from '../../gateway/stages/downshift.js';
import { parseDownshiftRules } from '../../policies/downshift/load.js';
import { defaultGuardPolicy } from '../../policies/guard-policy.js';
import type { EffectivePolicy } from '../../policies/types.js';
import { fakeContext } from './fake-context.js';
import { gooseRequests } from './goose-requests.js';

const lookup = (id: string) => ({ tier: id.startsWith('google/') || id.endsWith('-mini') ? ('economy' as const) : ('standard' as const) });
const titlesTo = (model: string) => ({ version: 1 as const, rules: [{ id: `titles-to-${model.split('/')[1]!.replace(/\./g, '-')}`, match: { taskKinds: ['title'] }, action: { model } }] });
const policy = (downshift: unknown, version = 'v1'): EffectivePolicy => ({ role: 'engineering', version, guard: defaultGuardPolicy, downshift });

function capture() {
  const lines: string[] = [];
  const log = pino({ level: 'error' }, new Writable({ write(c: Buffer, _e, cb) { lines.push(c.toString()); cb(); } }));
  return { lines, log };
}

describe('downshift rule sources', () => {
  const { log, lines } = capture();
  const fromPolicy = policyDownshiftRules(lookup, log);
  const run = (local: DownshiftRules | undefined, p: EffectivePolicy | undefined) => {
    const ctx = fakeContext({ body: structuredClone(gooseRequests.naming) });
    if (p) ctx.policy = p;
    downshiftStage({ rules: local, policyRules: fromPolicy, estimatePromptTokens: () => 0 }).run(ctx);
    return ctx;
  };
  const local = new DownshiftRules(parseDownshiftRules(titlesTo('google/gemini-2.5-flash'), 'local'), lookup);

  it("uses the policy's rules when there is no local file", () => {
    const ctx = run(undefined, policy(titlesTo('openai/gpt-4.1-mini')));
    assert.equal(ctx.body?.model, 'openai/gpt-4.1-mini');
    assert.equal(ctx.notes.downshift?.rule, 'titles-to-gpt-4-1-mini');
  });

  it('a local rule file wins over the policy', () => {
    const ctx = run(local, policy(titlesTo('openai/gpt-4.1-mini')));
    assert.equal(ctx.body?.model, 'google/gemini-2.5-flash');
  });

  it('no local file and no rules in the policy: nothing changes', () => {
    assert.equal(run(undefined, policy(undefined)).body?.model, 'anthropic/claude-sonnet-4');
    assert.equal(run(undefined, undefined).body?.model, 'anthropic/claude-sonnet-4');
  });

  it('a new policy object (new bundle) brings its own rules; one policy is compiled once', () => {
    const p1 = policy(titlesTo('openai/gpt-4.1-mini'), 'v1');
    assert.equal(fromPolicy(p1), fromPolicy(p1), 'cached per bundle');
    assert.equal(run(undefined, policy(titlesTo('google/gemini-2.5-flash'), 'v2')).body?.model, 'google/gemini-2.5-flash');
  });

  it('invalid rules in a bundle turn downshift off for it and are logged once', () => {
    const broken = policy({ version: 1, rules: [{ id: 'x', match: {}, action: { tier: 'economy' } }] }, 'v-broken');
    assert.equal(run(undefined, broken).body?.model, 'anthropic/claude-sonnet-4');
    assert.equal(run(undefined, broken).body?.model, 'anthropic/claude-sonnet-4');
    const logged = lines.filter((l) => l.includes('downshift rules of the policy bundle are invalid'));
    assert.equal(logged.length, 1);
    assert.match(logged[0]!, /no model is set for tier \\"economy\\"/);
  });
});
