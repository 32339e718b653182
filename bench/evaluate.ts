/**
 * Policy evaluation latency: PolicyEvaluator.evaluate (Cedar, pre-parsed policy set, stateful)
 * over the shipped role profiles: once with Cedar on every call, once with the decision cache
 * on a gateway-like mix. Prints P50/P90/P99/max.
 * Run: npm run bench:evaluate [-- --iterations 20000]
 */
import { performance } from 'node:perf_hooks';
import { cpus, loadavg } from 'node:os';
import { ProfileCatalog, SHIPPED_PROFILES_DIR } from '../controller/profiles/catalog.js';
import { PolicyEvaluator, type EvaluationInput } from '../controller/policy/evaluator.js';

const iterArg = process.argv.indexOf('--iterations');
const iterations = iterArg > 0 ? Number(process.argv[iterArg + 1]) : 20_000;
const warmup = 5_000;

const evaluator = await PolicyEvaluator.create(ProfileCatalog.load([SHIPPED_PROFILES_DIR]));
const ana = { id: 'ana', roles: ['finance'], department: 'finance-dept', team: 'payables', attributes: { clearance: 2 } };
const requests: EvaluationInput[] = [
  { principal: ana, action: 'model.call', resource: { type: 'model', id: 'anthropic/claude-sonnet-4', attributes: { tier: 'standard' } } },
  { principal: ana, action: 'model.call', resource: { type: 'model', id: 'openai/gpt-5', attributes: { tier: 'premium' } }, context: { budgetState: 'soft' } },
  { principal: ana, action: 'extension.use', resource: { type: 'extension', id: 'memory' } },
  { principal: ana, action: 'data.send', resource: { type: 'model', id: 'anthropic/claude-sonnet-4' }, context: { dataClass: 'IBAN' } },
  { principal: ana, action: 'payment.approve', resource: { type: 'payment', id: 'inv-9' }, context: { amount: 4200, time: '2026-11-25T12:00:00Z' } },
  { principal: { id: 'mia', roles: ['marketing'], department: 'marketing-dept' }, action: 'data.export', resource: { type: 'document', id: 'crm', attributes: { department: 'finance-dept' } }, context: { dataClass: 'EMAIL' } },
];

/** Times `iterations` calls over `pick(i)` after a warm-up; prints P50/P90/P99/max. */
function run(label: string, ev: PolicyEvaluator, pick: (i: number) => EvaluationInput): number {
  for (let i = 0; i < warmup; i++) ev.evaluate(pick(i));
  const samples = new Float64Array(iterations);
  let allowed = 0;
  for (let i = 0; i < iterations; i++) {
    const input = pick(i + warmup);
    const t0 = performance.now();
    const r = ev.evaluate(input);
    samples[i] = performance.now() - t0;
    if (r.allow) allowed++;
  }
  samples.sort();
  const q = (p: number) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))]! * 1000;
  console.log(`${label}`);
  console.log(`  P50 ${q(0.5).toFixed(1)} µs   P90 ${q(0.9).toFixed(1)} µs   P99 ${q(0.99).toFixed(1)} µs   max ${(samples[samples.length - 1]! * 1000).toFixed(1)} µs   (allowed ${allowed}/${iterations})`);
  return q(0.99);
}

console.log(`policy evaluation, ${evaluator.version}, ${iterations} calls per run, node ${process.version}`);
// Tail latencies on a shared machine are mostly scheduling; print the load so runs can be compared.
console.log(`machine: ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
const uncached = await PolicyEvaluator.create(ProfileCatalog.load([SHIPPED_PROFILES_DIR]), { cacheSize: 0 });
const p99Cedar = run(`Cedar on every call (no decision cache), ${requests.length} request shapes:`, uncached, (i) => requests[i % requests.length]!);

// A gateway-like mix: 300 people x their role's usual checks, plus payments with unique
// amounts (always a cache miss), so about one call in six goes to Cedar.
const roles = ['finance', 'marketing', 'engineering'];
const models = ['anthropic/claude-sonnet-4', 'openai/gpt-4.1-mini', 'google/gemini-2.5-flash', 'openai/gpt-5', 'ollama/llama3'];
const extensions = ['developer', 'memory', 'jetbrains', 'figma', 'google_drive'];
const mixed = (i: number): EvaluationInput => {
  const principal = { id: `p${i % 300}`, roles: [roles[i % 3]!], department: `${roles[i % 3]}-dept` };
  switch (i % 6) {
    case 0: return { principal, action: 'model.call', resource: { type: 'model', id: models[i % 5]!, attributes: { tier: 'standard' } } };
    case 1: return { principal, action: 'extension.use', resource: { type: 'extension', id: extensions[i % 5]! } };
    case 2: return { principal, action: 'data.send', resource: { type: 'model', id: models[i % 5]! }, context: { dataClass: i % 2 ? 'EMAIL' : 'IBAN' } };
    case 3: return { principal, action: 'payment.approve', resource: { type: 'payment', id: `inv-${i}` }, context: { amount: (i % 50_000) + 0.01, time: '2026-11-25T12:00:00Z' } };
    case 4: return { principal, action: 'model.call', resource: { type: 'model', id: models[i % 5]! }, context: { budgetState: 'soft' } };
    default: return { principal, action: 'skill.use', resource: { type: 'skill', id: 'code-review' } };
  }
};
const p99Mixed = run('gateway mix with the decision cache (payments always miss):', evaluator, mixed);
console.log(`target P99 < 1000 µs: Cedar-only ${p99Cedar < 1000 ? 'met' : 'NOT met'}, gateway mix ${p99Mixed < 1000 ? 'met' : 'NOT met'}`);
