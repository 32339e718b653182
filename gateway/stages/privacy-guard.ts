/**
 * privacyGuard (request stage): detects sensitive values in every text of the request and,
 * per class as the caller's guard policy says, ignores them (off), records them (detect),
 * replaces them with deterministic pseudonyms (mask) or refuses the request (block).
 *
 * A block answers 400 `privacy_blocked` naming the class and where (path, message index,
 * character range), never the value. 400 rather than 403 because Goose reads 401/403 as an
 * authentication failure; the wording avoids the phrases Goose takes for a context overflow.
 *
 * Which fields carry text comes from the route's wire map (gateway/wire/). Detection results
 * are memoised per tenant and text (guard/detection-memo.ts), so the history an agent resends
 * every turn is not scanned again.
 *
 * The request's pseudonym map is kept beside the context (never in ctx.notes or logs) for the
 * reidentify stage, and written to the encrypted vault after the response.
 */
import { LRUCache } from 'lru-cache';
import type { RequestContext, Stage } from '../context.js';
import { GatewayError, readsAsContextOverflow } from '../errors.js';
import { defaultGuardPolicy } from '../../policies/guard-policy.js';
import type { DetectFn } from '../guard/types.js';
import { TenantKeys } from '../guard/pseudonym.js';
import { Vault, loadOrCreateVaultKey } from '../guard/vault.js';
import { SecretStore } from '../../platform/secrets/store.js';
import type { GatewayDb } from '../../platform/sqlite.js';
import { maskRequestBody, type BlockedFinding, type PseudonymEntry } from '../guard/mask-request.js';
import { resolveGuardPolicy } from '../guard/policy-modes.js';
import { TenantDetectionMemos } from '../guard/detection-memo.js';
import { wireMapForRoute } from '../wire/index.js';
import { rememberTurn } from '../wire/raw-request.js';
import { DEFAULT_MEMO_MEGABYTES_PER_TENANT } from '../config.js';

/** Default bound of each tenant's detection memo (`gateway.guard.memoMegabytesPerTenant`). */
export const DEFAULT_MEMO_BYTES_PER_TENANT = DEFAULT_MEMO_MEGABYTES_PER_TENANT * 1024 * 1024;

/** The pseudonyms each in-flight request used; weakly held so a finished request frees them. */
export class RequestPseudonyms {
  readonly #byRequest = new WeakMap<RequestContext, readonly PseudonymEntry[]>();
  set(ctx: RequestContext, entries: readonly PseudonymEntry[]): void {
    this.#byRequest.set(ctx, entries);
  }
  get(ctx: RequestContext): readonly PseudonymEntry[] | undefined {
    return this.#byRequest.get(ctx);
  }
}

export interface PrivacyGuardDeps {
  detect: DetectFn;
  keys: TenantKeys;
  pseudonyms: RequestPseudonyms;
  /** Where pseudonyms are kept after the response; opened lazily (omit to keep none). */
  vault?: () => Vault;
  /** Detection memo per tenant; omit to detect every text of every request afresh. */
  memos?: TenantDetectionMemos;
}

/** Production wiring: keys from the data dir, vault in gateway.db opened on first write. */
export function createPrivacyGuardDeps(opts: {
  dataDir: string;
  db: () => GatewayDb;
  detect: DetectFn;
  secrets?: SecretStore;
  tenantKey?: (tenantId: string) => string | undefined;
  /** Bound of each tenant's detection memo; 0 keeps no memo. Default DEFAULT_MEMO_BYTES_PER_TENANT. */
  memoBytesPerTenant?: number;
}): PrivacyGuardDeps {
  const memoBytes = opts.memoBytesPerTenant ?? DEFAULT_MEMO_BYTES_PER_TENANT;
  let vault: Vault | undefined;
  const secrets = opts.secrets ?? SecretStore.open({ dataDir: opts.dataDir });
  return {
    detect: opts.detect,
    keys: TenantKeys.fromDataDir(opts.dataDir, opts.tenantKey, secrets),
    pseudonyms: new RequestPseudonyms(),
    vault: () => (vault ??= new Vault(opts.db(), loadOrCreateVaultKey(opts.dataDir, secrets))),
    ...(memoBytes > 0 ? { memos: new TenantDetectionMemos({ maxBytesPerTenant: memoBytes }) } : {}),
  };
}

/** Wording checked by a test against Goose's context-overflow trigger phrases. */
/** Names the class and the message number only: a JSON path or key could carry request text or a phrase Goose reads as "context too long". */
export function blockMessage(b: BlockedFinding): string {
  const where = b.messageIndex !== undefined ? `message ${b.messageIndex + 1}` : 'the text';
  const more = b.count > 1 ? ` (${b.count} blocked values in this request)` : '';
  const cls = readsAsContextOverflow(b.class) ? 'a protected value' : b.class;
  return `Blocked by privacy policy: ${cls} found in ${where} at characters ${b.start}-${b.end}${more}. ` +
    'Remove it from the conversation, or ask your administrator to change the guard policy.';
}

export function privacyGuardStage(deps: PrivacyGuardDeps): Stage {
  // Pseudonyms already in the vault and fresh enough not to be rewritten on every request.
  const stored = new LRUCache<string, true>({ max: 50_000, ttl: 3600_000 });

  return {
    name: 'privacyGuard',
    phase: 'request',
    run(ctx: RequestContext) {
      const map = wireMapForRoute(ctx.route);
      if (!map || !ctx.body) return;
      const policy = resolveGuardPolicy(ctx.policy?.guard ?? defaultGuardPolicy);
      ctx.notes.guardMode = policy.defaultMode;
      if (policy.inactive) return;
      const tenantId = ctx.caller?.tenantId;
      if (!tenantId) throw new GatewayError(500, 'privacyGuard ran before authenticate', 'server_error');

      const memo = deps.memos?.forTenant(tenantId);
      const result = maskRequestBody(ctx.body, map.format, {
        detect: deps.detect,
        ...(memo ? { memo } : {}),
        detectOptions: policy.detectOptions,
        modeFor: policy.modeFor,
        styleFor: policy.styleFor,
        pseudonymizer: deps.keys.pseudonymizer(tenantId),
      });

      if (result.blocked) {
        ctx.notes.denied = { stage: 'privacyGuard', reason: `${result.blocked.class} in ${result.blocked.path}` };
        throw new GatewayError(400, blockMessage(result.blocked), 'invalid_request_error', 'privacy_blocked');
      }
      // The next turn resends this conversation: what masking left untouched is kept for it.
      rememberTurn(ctx.body);
      if (Object.keys(result.redactions).length > 0) ctx.notes.redactions = result.redactions;
      if (Object.keys(result.detections).length > 0) ctx.notes.detections = result.detections;
      if (result.entries.length === 0) return;
      deps.pseudonyms.set(ctx, result.entries);

      const openVault = deps.vault;
      if (!openVault) return;
      const fresh = result.entries.filter((e) => !stored.has(`${tenantId}\0${e.pseudonym}`));
      if (fresh.length === 0) return;
      // After the answer is delivered: vault writes stay off the request's latency.
      ctx.onFinish(() => {
        try {
          openVault().put(tenantId, fresh);
          for (const e of fresh) stored.set(`${tenantId}\0${e.pseudonym}`, true);
        } catch (err) {
          ctx.log.warn({ err: (err as Error).message, count: fresh.length }, 'privacy guard: vault write failed');
        }
      });
    },
  };
}
