/**
 * Idempotency-Key on every write of the plugin that installs this: the first request with a key
 * runs and its answer (status + body) is stored per (token subject, key); a repeat replays that
 * answer with `idempotent-replay: true`. The same key with a different method, URL or body is a
 * 422; a repeat while the first is still running is a 409. The first request keeps its claim
 * fresh while it runs (every second); a claim not refreshed for ABANDONED_AFTER_MS belongs to a
 * process that died (killed mid-request), and the repeat takes over and runs — so a client that
 * fails over to another controller waits seconds, not minutes, and not longer than the queue's
 * lease. 5xx answers are not stored, so the client may retry them with the same key.
 *
 * A route may declare `config: { idempotencyNotStored: true }` when running it again is its
 * whole answer to a repeat (a heartbeat: it only records a sign of life and the server's time).
 * Its key is still checked for form, but nothing is stored or replayed: the two writes of a claim
 * and an answer would cost more than the request itself.
 *
 * A handler whose last write is its audit record may store its answer in that same write
 * (`answerInLastWrite`): the mesh's route and result answers ride their audit batch (decision
 * 0079), so a repeat can never be answered before the first's audit record is committed, and the
 * answer costs no write of its own. What a repeat sees is unchanged: the first answer's status and
 * body, byte for byte, or a 409 while the first is still running.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { ControllerTables } from '../storage/schema.js';
import { HttpError } from '../http-errors.js';
import { IDEMPOTENCY_HEADER } from '../../mesh/contracts.js';
import '../mesh/schema.js';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;
/** An unfinished first request whose claim was not refreshed for this long is taken to have died with its process. */
export const ABANDONED_AFTER_MS = 5_000;
/** How often a running first request refreshes its claim. */
const REFRESH_MS = 1_000;
declare module 'fastify' {
  interface FastifyContextConfig {
    /** An Idempotency-Key on this route is checked for form but not stored (see above). */
    idempotencyNotStored?: boolean;
  }
}
/** A stored answer: what a repeat of (subject, key) replays. */
export interface IdempotencyAnswer {
  subject: string;
  key: string;
  status: number;
  body: string;
}

interface Claim {
  subject: string;
  key: string;
  timer: NodeJS.Timeout;
  /** The answer the handler had its own last write store (`answerInLastWrite`). */
  answer?: IdempotencyAnswer;
}
const claimed = new WeakMap<FastifyRequest, Claim>();

/** How a handler stores its answer in its own last write; see `answerInLastWrite`. */
export interface AnswerInLastWrite {
  /** Serializes `payload` as the route answers `status`, and returns the row for the handler's write to store. */
  of(payload: unknown): IdempotencyAnswer;
  /** The serialized answer once `of` ran: the handler sends exactly this (`sendStored`). */
  readonly body: string | undefined;
}

/**
 * For a handler that can store its Idempotency-Key answer in the write that ends its work (in the
 * same statement or transaction, so the answer exists exactly when that write committed): undefined
 * when the request holds no claim (no key, a route that does not store keys). The handler calls
 * `of(answer)` just before that write, includes the row in it, and sends `body` as it is; the hook
 * then writes nothing more. If the write fails the request fails (a 5xx removes the claim as
 * always), and any other answer than the one stored is stored by the hook as before.
 */
export function answerInLastWrite(request: FastifyRequest, reply: FastifyReply, status: number): AnswerInLastWrite | undefined {
  const c = claimed.get(request);
  if (!c) return undefined;
  return {
    of(payload) {
      c.answer = { subject: c.subject, key: c.key, status, body: reply.code(status).serialize(payload) as string };
      return c.answer;
    },
    get body() {
      return c.answer?.body;
    },
  };
}

/** Sends an answer serialized by `answerInLastWrite` (already JSON: not serialized again). */
export function sendStored(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).header('content-type', 'application/json; charset=utf-8').send(body);
}

export function installIdempotency(app: FastifyInstance, db: Kysely<ControllerTables>): void {
  const claim = (request: FastifyRequest, subject: string, key: string) => {
    const timer = setInterval(() => {
      db.updateTable('mesh_idempotency').set({ created_at: Date.now() }).where('subject', '=', subject).where('key', '=', key).where('status', 'is', null).execute().catch(() => {
        // Best effort: a missed refresh only lets a retry take over sooner.
      });
    }, REFRESH_MS);
    timer.unref();
    claimed.set(request, { subject, key, timer });
  };
  const release = (request: FastifyRequest) => {
    const c = claimed.get(request);
    if (c) clearInterval(c.timer);
    claimed.delete(request);
    return c;
  };

  app.addHook('preHandler', async (request, reply) => {
    if (!WRITE_METHODS.has(request.method)) return;
    const raw = request.headers[IDEMPOTENCY_HEADER];
    if (raw === undefined) return;
    const key = Array.isArray(raw) ? raw[0] : raw;
    if (key === undefined || !KEY_PATTERN.test(key)) throw new HttpError(400, 'Idempotency-Key must be 1-200 printable ASCII characters without spaces');
    if (request.routeOptions.config.idempotencyNotStored === true) return;
    const subject = request.caller?.subject ?? 'anonymous';
    const fingerprint = createHash('sha256').update(`${request.method} ${request.url}\n${JSON.stringify(request.body ?? null)}`).digest('hex');
    const inserted = await db
      .insertInto('mesh_idempotency')
      .values({ subject, key, fingerprint, status: null, body: null, created_at: Date.now() })
      .onConflict((oc) => oc.columns(['subject', 'key']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1) {
      claim(request, subject, key);
      return;
    }
    const prior = await db.selectFrom('mesh_idempotency').selectAll().where('subject', '=', subject).where('key', '=', key).executeTakeFirst();
    if (!prior) throw new HttpError(409, 'a request with this Idempotency-Key is being retried right now; try again');
    if (prior.fingerprint !== fingerprint) throw new HttpError(422, 'this Idempotency-Key was already used for a different request; use a new key for a new request');
    if (prior.status === null || prior.body === null) {
      // A first request whose process died never finishes: after a while its key is taken over.
      const takeOver = await db
        .updateTable('mesh_idempotency')
        .set({ created_at: Date.now() })
        .where('subject', '=', subject)
        .where('key', '=', key)
        .where('status', 'is', null)
        .where('created_at', '=', prior.created_at)
        .where('created_at', '<', Date.now() - ABANDONED_AFTER_MS)
        .executeTakeFirst();
      if (Number(takeOver.numUpdatedRows) === 1) {
        claim(request, subject, key);
        return;
      }
      throw new HttpError(409, 'the first request with this Idempotency-Key is still running; retry shortly');
    }
    return sendStored(reply.header('idempotent-replay', 'true'), Number(prior.status), prior.body);
  });

  // A request that ends without a reply (client gone before onSend) must not refresh forever.
  app.addHook('onResponse', async (request) => {
    release(request);
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const c = release(request);
    if (!c) return payload;
    // Stored by the handler's last write, together with its audit record.
    if (c.answer && c.answer.status === reply.statusCode && c.answer.body === payload) return payload;
    if (reply.statusCode >= 500 || typeof payload !== 'string') {
      await db.deleteFrom('mesh_idempotency').where('subject', '=', c.subject).where('key', '=', c.key).execute();
    } else {
      await db.updateTable('mesh_idempotency').set({ status: reply.statusCode, body: payload }).where('subject', '=', c.subject).where('key', '=', c.key).execute();
    }
    return payload;
  });
}
