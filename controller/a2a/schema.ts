/** Row type of the A2A edge's task table (controller/a2a/migrations.ts), added to the typed schema. */
import type { EpochMs } from '../storage/schema.js';

export interface A2ATaskRow {
  /** The caller the task belongs to (token subject); only they read or cancel it. */
  owner: string;
  id: string;
  context_id: string;
  /** The mesh task it stands for, when it was routed. */
  mesh_task_id: string | null;
  /** A2A TaskState number of the stored status (for list filters). */
  state: number;
  /** ISO timestamp of the stored status ('' when none), the list order. */
  status_ts: string;
  /** The A2A Task as its JSON wire form (`Task.toJSON`). */
  task: string;
  created_at: EpochMs;
  updated_at: EpochMs;
}

declare module '../storage/schema.js' {
  interface ControllerTables {
    a2a_tasks: A2ATaskRow;
  }
}
