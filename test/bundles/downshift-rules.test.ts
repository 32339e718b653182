/**
 * Downshift rules in the signed bundle, end to end: a controller and an enrolled gateway; a cost
 * owner publishes new finance rules with `switchboard rules publish`; the gateway picks up the
 * new bundle on its next sync and the scripted upstream sees the cheaper model. A tampered or
 * unsigned bundle carrying rules is refused, and a local rule file overrides the bundle's rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type { JSONWebKeySet } from 'jose';
import { chat, eventually, startLinkedSetup } from './linked-setup.js';
import { activeRules, formatActiveRules, publishRules, showRules } from '../../bin/commands/rules.js';
import { CliError } from '../../bin/cli-support.js';
import { BundleRejectedError, verifyBundle } from '../../gateway/bundles/verify.js';
import { validateBundleBody } from '../../policies/bundle/body.js';
import type { DownshiftRuleSet } from '../../policies/downshift/types.js';

const CHAT_TO_MINI: DownshiftRuleSet = {
  version: 1,
  tiers: { economy: 'openai/gpt-4.1-mini' },
  rules: [{ id: 'finance-chat-to-mini', description: 'Chat on gpt-4.1 goes to the mini model', match: { taskKinds: ['chat'], models: ['openai/gpt-4.1'] }, action: { tier: 'economy' } }],
};

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const unb64 = (s: string) => JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as Record<string, unknown>;

test('rules published on the controller reach an enrolled gateway in the signed bundle; a local rule file overrides them', async () => {
  const s = await startLinkedSetup({ auth: 'enrolment', pollIntervalMs: 100 });
  const cliDir = mkdtempSync(join(tmpdir(), 'sb-cli-'));
  try {
    await s.startGateway();
    const lastModel = () => (s.upstream.received.at(-1)!.body as { model: string }).model;

    // Before: the shipped finance rules do not touch a chat request on gpt-4.1.
    assert.equal((await chat(s.gatewayUrl(), s.gatewayToken(), 'openai/gpt-4.1')).status, 200);
    assert.equal(lastModel(), 'openai/gpt-4.1');
    const before = await activeRules(s.gatewayDataDir, undefined, 'finance');
    assert.equal(before.source, 'bundle');
    assert.equal(before.bundleVersion, s.gateway()!.services.controllerLink.bundles!.current()!.version);

    // A cost owner publishes through the CLI (PUT /api/v1/profiles/finance/downshift-rules).
    const env = { SB_TEST_TOKEN: (await s.bearer(['cost-owner'], 'cora')).slice('Bearer '.length) };
    const file = join(cliDir, 'finance-rules.yaml');
    writeFileSync(file, toYaml(CHAT_TO_MINI));
    const flags = { dataDir: cliDir, role: 'finance', controller: s.controllerUrl, tokenEnv: 'SB_TEST_TOKEN' };
    const shown = await showRules({ ...flags, format: 'json' }, env);
    const { version } = JSON.parse(shown) as { version: number };
    const out = await publishRules(file, { ...flags, expectedVersion: version }, env);
    const published = /profile version (\d+), bundle ([0-9a-f]{16})/.exec(out);
    assert.ok(published, out);
    assert.equal(Number(published[1]), version + 1);
    // A second publish quoting the old version loses: exit code 2, the controller's reason.
    await assert.rejects(publishRules(file, { ...flags, expectedVersion: version }, env), (err: unknown) => err instanceof CliError && err.exitCode === 2 && /HTTP 409.*version/.test(err.message));
    assert.match(await showRules({ ...flags, format: 'yaml' }, env), /finance-chat-to-mini[\s\S]*published by cora|published by cora[\s\S]*finance-chat-to-mini/);

    // The gateway picks the new bundle up on its ETag poll and the rule applies.
    await eventually(() => s.gateway()!.services.controllerLink.bundles!.current()?.version === published[2], 'gateway synced the new bundle');
    assert.equal((await chat(s.gatewayUrl(), s.gatewayToken(), 'openai/gpt-4.1')).status, 200);
    assert.equal(lastModel(), 'openai/gpt-4.1-mini', 'the upstream sees the cheaper model');
    assert.equal((await chat(s.gatewayUrl(), s.gatewayToken(), 'openai/gpt-4.1-mini')).status, 200);
    assert.equal(lastModel(), 'openai/gpt-4.1-mini');
    assert.match(formatActiveRules(await activeRules(s.gatewayDataDir, undefined, 'finance')), new RegExp(`signed bundle ${published[2]} for role finance \\(1 rules\\)`));

    // A local rule file on this machine wins over the bundle's rules.
    writeFileSync(
      join(s.gatewayDataDir, 'downshift-rules.yaml'),
      toYaml({ version: 1, rules: [{ id: 'local-chat-to-flash', match: { taskKinds: ['chat'] }, action: { model: 'google/gemini-2.5-flash' } }] }),
    );
    await s.stopGateway();
    await s.startGateway();
    assert.equal((await chat(s.gatewayUrl(), s.gatewayToken(), 'openai/gpt-4.1')).status, 200);
    assert.equal(lastModel(), 'google/gemini-2.5-flash', 'the local override applies, not the bundle rule');
    const active = await activeRules(s.gatewayDataDir, undefined, 'finance');
    assert.equal(active.source, 'local-file');
    assert.match(formatActiveRules(active), /local override .*downshift-rules\.yaml \(1 rules\); it wins over the bundle's rules/);
  } finally {
    await s.close();
    rmSync(cliDir, { recursive: true, force: true });
  }
});

test('a bundle whose rules were tampered with, or that is unsigned, is refused', async () => {
  const s = await startLinkedSetup({ auth: 'enrolment' });
  try {
    const ctl = s.controller()!;
    const admin = await s.bearer(['admin'], 'root');
    const put = await ctl.app.inject({ method: 'PUT', url: '/api/v1/profiles/finance/downshift-rules', headers: { authorization: admin }, payload: { rules: CHAT_TO_MINI } });
    assert.equal(put.statusCode, 200, put.body);
    const got = await fetch(`${s.controllerUrl}/api/v1/bundles/finance`, { headers: { authorization: admin } });
    const jws = await got.text();
    const jwks = (await (await fetch(`${s.controllerUrl}/api/v1/bundle-keys`)).json()) as JSONWebKeySet;
    const opts = { jwks, role: 'finance', validate: validateBundleBody };
    const verified = await verifyBundle(jws, opts);
    assert.deepEqual((verified.bundle as { profile: { downshift: unknown } }).profile.downshift, CHAT_TO_MINI);

    // Point the rule at a premium model, keep the signature: refused.
    const [header, payload, signature] = jws.split('.') as [string, string, string];
    const claims = unb64(payload) as { bundle: { profile: { downshift: DownshiftRuleSet } } };
    claims.bundle.profile.downshift.tiers = { economy: 'openai/gpt-4.1' };
    await assert.rejects(verifyBundle(`${header}.${b64(claims)}.${signature}`, opts), (err: unknown) => err instanceof BundleRejectedError && err.reason === 'bad-signature');
    // The same rules with no signature at all: refused.
    await assert.rejects(verifyBundle(`${b64({ alg: 'none', typ: 'sb-bundle+jwt' })}.${b64(claims)}.`, opts), (err: unknown) => err instanceof BundleRejectedError && err.reason === 'unsigned');

    // And a gateway refuses a tampered bundle file at start: with the controller away it has no policy.
    await s.startGateway();
    const good = s.gateway()!.services.controllerLink.bundles!.current()!;
    await s.stopGateway();
    await s.stopController();
    writeFileSync(join(s.gatewayDataDir, 'bundles', 'finance.jws'), `${header}.${b64(claims)}.${signature}`);
    await s.startGateway();
    assert.equal(s.gateway()!.services.controllerLink.bundles!.current(), undefined, 'the tampered bundle is not applied');
    assert.ok(s.logs.some((l) => l.includes('stored bundle refused') && l.includes('bad-signature')), 'refusal logged with its reason');
    assert.equal((await chat(s.gatewayUrl(), s.gatewayToken(), 'openai/gpt-4.1')).status, 503);
    // The controller back: the good bundle (with the published rules) is fetched again.
    await s.startController();
    await eventually(() => s.gateway()!.services.controllerLink.bundles!.current()?.version === good.version, 'good bundle fetched again');
  } finally {
    await s.close();
  }
});
