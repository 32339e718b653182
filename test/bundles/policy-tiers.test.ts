import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { RequestContext } from '../../gateway/context.js';
import type { EffectivePolicy } from '../../policies/types.js';
import { GatewayError } from '../../gateway/errors.js';
import { loadPolicyStage } from '../../gateway/stages/policy.js';
import { loadModelRegistry } from '../../models/registry.js';

function ctx(model: string, role: string, route: RequestContext['route'] = 'chat'): RequestContext {
  return {
    id: 'r1', route, format: 'openai', method: 'POST', receivedAt: 0, headers: {}, body: { model, messages: [] }, stream: false,
    requestedModel: model, caller: { tenantId: 't', userId: 'u', role }, notes: {}, signal: new AbortController().signal,
    log: pino({ level: 'silent' }), onFinish: () => {},
  };
}

const policies: Record<string, EffectivePolicy> = {
  finance: { role: 'finance', version: 'v', guard: { defaultMode: 'mask' }, allowedModels: ['anthropic/claude-sonnet-*', 'openai/gpt-4.1*', 'acme/*'], models: { allowed: [], tiers: ['standard', 'economy'] } },
  engineering: { role: 'engineering', version: 'v', guard: { defaultMode: 'mask' }, allowedModels: ['acme/*'], models: { allowed: [], tiers: ['premium', 'standard', 'economy', 'local'] } },
};

test('loadPolicy enforces models.tiers with the registry tier, failing closed on unknown tiers only when tiers are restricted', async () => {
  const registry = loadModelRegistry();
  const stage = loadPolicyStage({ policyFor: (role) => policies[role] }, registry.tierOf);
  const refusal = async (model: string, role: string) => {
    try {
      await stage.run(ctx(model, role));
      return undefined;
    } catch (err) {
      assert.ok(err instanceof GatewayError);
      return err;
    }
  };
  const premium = await refusal('anthropic/claude-sonnet-4', 'finance');
  assert.equal(premium?.code, 'model_not_allowed');
  assert.match(premium!.message, /is in the premium tier; role "finance" may use the standard, economy tiers/);
  assert.equal(await refusal('openai/gpt-4.1', 'finance'), undefined, 'standard passes');
  assert.equal(await refusal('openai/gpt-4.1-mini', 'finance'), undefined, 'economy passes');
  assert.match((await refusal('acme/unknown-model', 'finance'))!.message, /has no known tier/);
  assert.equal(await refusal('acme/unknown-model', 'engineering'), undefined, 'every tier allowed: no tier needed');
  const c = ctx('anthropic/claude-sonnet-4', 'finance');
  await assert.rejects(async () => stage.run(c));
  assert.match(c.notes.denied?.reason ?? '', /tier premium not allowed for role finance/);
  await stage.run(ctx('anthropic/claude-sonnet-4', 'finance', 'models'));
});
