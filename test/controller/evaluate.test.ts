import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestController, sampleDirectoryYaml, type TestController } from './harness.js';
import { importDirectory } from '../../controller/directory/import.js';
import { ProfileCatalog } from '../../controller/profiles/catalog.js';
import { PolicyConfigError, PolicyEvaluator } from '../../controller/policy/evaluator.js';

describe('POST /api/v1/evaluate', () => {
  let c: TestController;
  let auth: string;
  before(async () => {
    c = await startTestController();
    auth = await c.bearer(['gateway'], 'gateway:test');
    await importDirectory(sampleDirectoryYaml, 'yaml', 'sample.yaml', c.services.directory);
  });
  after(() => c.close());

  async function evaluate(body: object): Promise<{ allow: boolean; reasons: string[]; policies: string[] }> {
    const res = await c.app.inject({ method: 'POST', url: '/api/v1/evaluate', headers: { authorization: auth }, payload: body });
    assert.equal(res.statusCode, 200, res.body);
    return res.json();
  }
  const weekdayNoon = '2026-11-25T12:00:00Z'; // a Wednesday
  const saturday = '2026-11-28T12:00:00Z';

  it('RBAC: allows listed models and tiers, refuses others with a reason', async () => {
    const ok = await evaluate({ subject: { id: 'ana' }, action: 'model.call', resource: { type: 'model', id: 'anthropic/claude-sonnet-4', attributes: { tier: 'standard' } } });
    assert.equal(ok.allow, true);
    assert.deepEqual(ok.policies, ['finance.models']);
    assert.match(ok.reasons[0]!, /role finance may call the models/);
    const premium = await evaluate({ subject: { id: 'ana' }, action: 'model.call', resource: { type: 'model', id: 'anthropic/claude-sonnet-4', attributes: { tier: 'premium' } } });
    assert.equal(premium.allow, false);
    assert.match(premium.reasons.join('\n'), /tier premium is not allowed for role finance \(allowed: standard, economy\)/);
    const other = await evaluate({ subject: { id: 'ana' }, action: 'model.call', resource: { type: 'model', id: 'openai/gpt-5' } });
    assert.equal(other.allow, false);
    assert.match(other.reasons[0]!, /no rule permits model.call on model "openai\/gpt-5" for role\(s\) finance/);
    assert.match(other.reasons[1]!, /model "openai\/gpt-5" is not in role finance's allowed models/);
  });

  it('RBAC: extension allowlist and skills', async () => {
    assert.equal((await evaluate({ subject: { id: 'ana' }, action: 'extension.use', resource: { type: 'extension', id: 'memory' } })).allow, true);
    const jetbrains = await evaluate({ subject: { id: 'ana' }, action: 'extension.use', resource: { type: 'extension', id: 'jetbrains' } });
    assert.equal(jetbrains.allow, false);
    assert.match(jetbrains.reasons.join('\n'), /extension "jetbrains" is not on role finance's allowlist/);
    assert.equal((await evaluate({ subject: { id: 'mia' }, action: 'skill.use', resource: { type: 'skill', id: 'copywriting' } })).allow, true);
    assert.equal((await evaluate({ subject: { id: 'mia' }, action: 'skill.use', resource: { type: 'skill', id: 'payment-run' } })).allow, false);
  });

  it('ABAC: data class against the role guard policy', async () => {
    const email = await evaluate({ subject: { id: 'ana' }, action: 'data.send', resource: { type: 'model', id: 'anthropic/claude-sonnet-4' }, context: { dataClass: 'EMAIL' } });
    assert.equal(email.allow, true);
    const iban = await evaluate({ subject: { id: 'ana' }, action: 'data.send', resource: { type: 'model', id: 'anthropic/claude-sonnet-4' }, context: { dataClass: 'IBAN' } });
    assert.equal(iban.allow, false);
    assert.match(iban.reasons.join('\n'), /role finance's guard policy blocks IBAN/);
  });

  it('ABAC: amount and time for payments, with the deciding rule as reason', async () => {
    const small = await evaluate({ subject: { id: 'ana' }, action: 'payment.approve', resource: { type: 'payment', id: 'inv-1' }, context: { amount: 500, time: saturday } });
    assert.equal(small.allow, true);
    const weekend = await evaluate({ subject: { id: 'ana' }, action: 'payment.approve', resource: { type: 'payment', id: 'inv-2' }, context: { amount: 5000, time: saturday } });
    assert.equal(weekend.allow, false);
    assert.deepEqual(weekend.policies, ['finance.payment-business-hours']);
    assert.match(weekend.reasons[0]!, /weekdays 08:00-18:00/);
    const large = await evaluate({ subject: { id: 'ana' }, action: 'payment.approve', resource: { type: 'payment', id: 'inv-3' }, context: { amount: 25000, time: weekdayNoon } });
    assert.equal(large.allow, false);
    assert.match(large.reasons.join(' '), /above 10,000 USD need the treasury role/);
    const cfo = await evaluate({ subject: { id: 'cfo' }, action: 'payment.approve', resource: { type: 'payment', id: 'inv-3' }, context: { amount: 25000, time: weekdayNoon } });
    assert.equal(cfo.allow, true, 'the treasury role lifts the amount limit');
  });

  it('ABAC: budget state and department', async () => {
    const hard = await evaluate({ subject: { id: 'ana' }, action: 'model.call', resource: { type: 'model', id: 'google/gemini-2.5-flash', attributes: { tier: 'economy' } }, context: { budgetState: 'hard' } });
    assert.equal(hard.allow, false);
    assert.deepEqual(hard.policies, ['base.hard-budget']);
    const own = await evaluate({ subject: { id: 'mia' }, action: 'data.read', resource: { type: 'document', id: 'q3-plan', attributes: { department: 'marketing-dept' } } });
    assert.equal(own.allow, false, 'no permit for data.read in profiles: default deny');
    const admin = await evaluate({ subject: { id: 'root', roles: ['admin'] }, action: 'data.read', resource: { type: 'document', id: 'ledger', attributes: { department: 'finance-dept' } } });
    assert.equal(admin.allow, true);
    const crossDept = await evaluate({ subject: { id: 'outsider', roles: ['admin', 'marketing'], department: 'marketing-dept' }, action: 'data.export', resource: { type: 'document', id: 'customers', attributes: { department: 'finance-dept' } }, context: { dataClass: 'EMAIL' } });
    assert.equal(crossDept.allow, false);
    assert.match(crossDept.reasons.join(' '), /marketing may not export customer records/);
  });

  it('uses directory facts over roles claimed in the request', async () => {
    const res = await evaluate({ subject: { id: 'ana', roles: ['admin'] }, action: 'extension.use', resource: { type: 'extension', id: 'jetbrains' } });
    assert.equal(res.allow, false);
  });

  it('rejects a profile rule that is not valid Cedar, naming the rule', async () => {
    const finance = c.services.profiles.get('finance')!;
    const broken = { ...finance, rules: [{ id: 'finance.broken', reason: 'x', cedar: 'permit (principal, action, resource) when { 1 + };' }] };
    await assert.rejects(PolicyEvaluator.create(ProfileCatalog.fromProfiles([broken])), (err: unknown) => err instanceof PolicyConfigError && /policy rule finance.broken/.test(err.message));
  });
});
