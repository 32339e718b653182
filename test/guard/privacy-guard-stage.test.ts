import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { FinishHook, JsonObject, RequestContext } from '../../gateway/context.js';
import { GatewayError } from '../../gateway/errors.js';
import { openGatewayDb } from '../../platform/sqlite.js';
import { blockMessage, createPrivacyGuardDeps, privacyGuardStage } from '../../gateway/stages/privacy-guard.js';
import { reidentifyStage } from '../../gateway/stages/reidentify.js';
import type { GuardPolicy } from '../../policies/guard-policy.js';
import { testDetect } from './masking-test-detector.js';

// Goose reads a 400 containing any of these as a context overflow and starts compacting.
const GOOSE_OVERFLOW_PHRASES = [
  'too long', 'context length', 'context_length_exceeded', 'reduce the length', 'token count', 'exceeds',
  'exceed context limit', 'input length', 'max_tokens', 'decrease input length', 'context limit', 'maximum prompt length',
];

function context(body: JsonObject, guard?: GuardPolicy, tenantId = 'acme'): RequestContext & { finish(): Promise<void> } {
  const hooks: FinishHook[] = [];
  return {
    id: 'r1', route: 'chat', format: 'openai', method: 'POST', receivedAt: 0, headers: {}, body, stream: false,
    requestedModel: 'm', caller: { tenantId, userId: 'u', role: 'engineering' },
    ...(guard ? { policy: { role: 'engineering', version: 'test', guard } } : {}),
    notes: {}, signal: new AbortController().signal, log: pino({ level: 'silent' }),
    onFinish: (h) => hooks.push(h),
    async finish() {
      for (const h of hooks) await h({ status: 200, completed: true, clientAborted: false, totalMs: 1 });
    },
  };
}

const body = (): JsonObject => ({ model: 'm', messages: [{ role: 'user', content: 'mail jane@corp.io, key sk-abcdefghijklmnopqrstuvwx' }] });

describe('privacyGuard and reidentify stages', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sb-guard-stage-'));
  const db = openGatewayDb(join(dir, 'gateway.db'));
  const deps = createPrivacyGuardDeps({ dataDir: dir, db: () => db, detect: testDetect });
  const guard = privacyGuardStage(deps);
  const reidentify = reidentifyStage(deps.pseudonyms);

  it('masks with the default policy, records counts only, and re-identifies from the request map without storing the real value', async () => {
    const ctx = context(body());
    await guard.run(ctx);
    assert.deepEqual(ctx.notes.redactions, { EMAIL: 1, API_KEY: 1 });
    assert.equal(ctx.notes.guardMode, 'mask');
    assert.equal(JSON.stringify(ctx.notes).includes('jane'), false);
    const masked = (ctx.body!['messages'] as JsonObject[])[0]!['content'] as string;
    const email = masked.match(/EMAIL_[0-9A-F]{8}/)![0];
    assert.equal(deps.vault!().get('acme', email), undefined, 'nothing written before the response is delivered');
    ctx.response = { kind: 'json', status: 200, headers: { 'content-length': '10' }, body: { choices: [{ message: { content: `ok ${email}` } }] }, bytes: new Uint8Array(10) };
    await reidentify.run(ctx);
    assert.deepEqual(ctx.response.body, { choices: [{ message: { content: 'ok jane@corp.io' } }] });
    assert.equal(ctx.response.kind === 'json' && ctx.response.bytes, undefined);
    assert.equal(ctx.response.headers['content-length'], undefined);
    await ctx.finish();
    // Nothing reads single pseudonym rows back (re-identification used the request's own map), so none is written.
    assert.equal(deps.vault!().get('acme', email), undefined);
    assert.equal((db.prepare('SELECT COUNT(*) AS n FROM guard_vault').get() as { n: number }).n, 0);
  });

  it('leaves error answers alone', async () => {
    const ctx = context(body());
    await guard.run(ctx);
    const errorBody = { error: { message: 'EMAIL_00000000 upstream failed' } };
    ctx.response = { kind: 'json', status: 502, headers: {}, body: structuredClone(errorBody) };
    await reidentify.run(ctx);
    assert.deepEqual(ctx.response.body, errorBody);
  });

  it('block: 400 privacy_blocked with class and place, never the value nor Goose overflow wording', async () => {
    const ctx = context(body(), { defaultMode: 'mask', classes: { API_KEY: 'block' } });
    await assert.rejects(async () => guard.run(ctx), (err: unknown) => {
      assert.ok(err instanceof GatewayError);
      assert.equal(err.status, 400);
      assert.equal(err.code, 'privacy_blocked');
      assert.equal(err.message, 'Blocked by privacy policy: API_KEY found in message 1 at characters 23-50. ' +
        'Remove it from the conversation, or ask your administrator to change the guard policy.');
      return true;
    });
    assert.deepEqual(ctx.notes.denied, { stage: 'privacyGuard', reason: 'API_KEY in messages[0].content' });
    const many = blockMessage({ class: 'EMAIL', path: 'system', start: 0, end: 5, count: 3 }).toLowerCase();
    for (const phrase of GOOSE_OVERFLOW_PHRASES) assert.equal(many.includes(phrase), false, phrase);
  });

  it('detect mode records counts and forwards unchanged; off does nothing', async () => {
    const detectCtx = context(body(), { defaultMode: 'detect' });
    await guard.run(detectCtx);
    assert.deepEqual(detectCtx.notes.detections, { EMAIL: 1, API_KEY: 1 });
    assert.equal(detectCtx.notes.redactions, undefined);
    assert.deepEqual(detectCtx.body, body());
    const offCtx = context(body(), { defaultMode: 'off' });
    await guard.run(offCtx);
    assert.deepEqual(offCtx.body, body());
    assert.equal(offCtx.notes.guardMode, 'off');
    assert.equal(offCtx.notes.detections, undefined);
  });

  it('gives another tenant other pseudonyms', async () => {
    const a = context(body(), undefined, 'acme');
    const b = context(body(), undefined, 'globex');
    await guard.run(a);
    await guard.run(b);
    assert.notDeepEqual(a.body, b.body);
  });

  it('closes its database', () => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
