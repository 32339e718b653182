/**
 * The A2A edge's TaskStore on the controller's database (SQLite or PostgreSQL), in place of the
 * SDK's in-memory store: a task sent through one controller process can be read (tasks/get) and
 * canceled (tasks/cancel) through another, and after a restart. Tasks are scoped to their owner
 * (the caller's token subject), as in the SDK's store: nobody else loads or lists them.
 */
import { Task, TaskState, type ListTasksRequest, type ListTasksResponse } from '@a2a-js/sdk';
import type { ServerCallContext, TaskStore } from '@a2a-js/sdk/server';
import type { Kysely } from 'kysely';
import type { ControllerTables } from '../storage/schema.js';
import './schema.js';

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 100;

function ownerOf(context: ServerCallContext): string {
  return context.user?.userName || 'unknown';
}

/** Opaque page token: the last row's (status timestamp, id). */
function encodeToken(ts: string, id: string): string {
  return Buffer.from(JSON.stringify([ts, id])).toString('base64url');
}

function decodeToken(token: string): [string, string] | undefined {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown;
    return Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string' ? [v[0], v[1]] : undefined;
  } catch {
    return undefined;
  }
}

export class DbA2ATaskStore implements TaskStore {
  constructor(private readonly db: Kysely<ControllerTables>) {}

  async save(task: Task, context: ServerCallContext): Promise<void> {
    const now = Date.now();
    const meshTaskId = task.metadata?.meshTaskId;
    const row = {
      context_id: task.contextId,
      mesh_task_id: typeof meshTaskId === 'string' ? meshTaskId : null,
      state: task.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED,
      status_ts: task.status?.timestamp ?? '',
      task: JSON.stringify(Task.toJSON(task)),
      updated_at: now,
    };
    await this.db
      .insertInto('a2a_tasks')
      .values({ owner: ownerOf(context), id: task.id, ...row, created_at: now })
      .onConflict((oc) => oc.columns(['owner', 'id']).doUpdateSet(row))
      .execute();
  }

  async load(taskId: string, context: ServerCallContext): Promise<Task | undefined> {
    const row = await this.db.selectFrom('a2a_tasks').select('task').where('owner', '=', ownerOf(context)).where('id', '=', taskId).executeTakeFirst();
    return row ? Task.fromJSON(JSON.parse(row.task)) : undefined;
  }

  /** Newest status first, then by id (as the SDK's store), keyset-paginated. */
  async list(params: ListTasksRequest, context: ServerCallContext): Promise<ListTasksResponse> {
    const pageSize = Math.min(Math.max(params.pageSize ?? DEFAULT_PAGE_SIZE, 1), MAX_PAGE_SIZE);
    let q = this.db.selectFrom('a2a_tasks').where('owner', '=', ownerOf(context));
    if (params.contextId) q = q.where('context_id', '=', params.contextId);
    if (params.status !== undefined && params.status !== TaskState.TASK_STATE_UNSPECIFIED) q = q.where('state', '=', params.status);
    if (params.statusTimestampAfter) {
      const after = new Date(params.statusTimestampAfter).toISOString();
      q = q.where('status_ts', '>', after);
    }
    const total = Number((await q.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow()).n);
    let page = q.select(['task', 'status_ts', 'id']).orderBy('status_ts', 'desc').orderBy('id', 'desc').limit(pageSize + 1);
    if (params.pageToken) {
      const cursor = decodeToken(params.pageToken);
      if (!cursor) return { tasks: [], nextPageToken: '', pageSize, totalSize: total };
      const [ts, id] = cursor;
      page = page.where((eb) => eb.or([eb('status_ts', '<', ts), eb.and([eb('status_ts', '=', ts), eb('id', '<', id)])]));
    }
    const rows = await page.execute();
    const shown = rows.slice(0, pageSize);
    const tasks = shown.map((r) => {
      const t = Task.fromJSON(JSON.parse(r.task));
      return params.includeArtifacts ? t : { ...t, artifacts: [] };
    });
    const last = shown[shown.length - 1];
    return { tasks, nextPageToken: rows.length > pageSize && last ? encodeToken(last.status_ts, last.id) : '', pageSize, totalSize: total };
  }
}
