/**
 * The agent mesh's parts, built once per controller process and shared by the mesh plugins
 * (agents, tasks, sessions, approvals, notifications, status, A2A). Also runs the sweeper:
 * lease reaping and approval deadlines, every `sweepMs`.
 */
import type { ControllerDb } from '../storage/database.js';
import type { DirectoryRepository } from '../directory/repository.js';
import type { ProfileCatalog } from '../profiles/catalog.js';
import type { PolicyEvaluator } from '../policy/evaluator.js';
import { AuditRepository } from '../audit/repository.js';
import { TenantKeys } from '../../gateway/guard/pseudonym.js';
import { AgentRepository } from '../agents/repository.js';
import { createTaskQueue, type TaskQueue } from '../tasks/queue.js';
import { TaskRouter } from '../tasks/router.js';
import { ApprovalWorkflow } from '../approvals/workflow.js';
import type { DecisionMetrics } from '../../platform/telemetry/metrics.js';
import { SessionBook } from '../sessions/book.js';
import { MeshAuditTrail } from './audit-trail.js';
import { RedactionBoundary } from './redaction-boundary.js';
import { TargetResolver } from './targets.js';
import { Wakeups } from './wakeups.js';
import { PgWakeupChannel } from './pg-wakeups.js';
import { DEFAULT_MESH_SETTINGS, type MeshSettings } from './settings.js';

export interface MeshServices {
  settings: MeshSettings;
  agents: AgentRepository;
  queue: TaskQueue;
  audit: MeshAuditTrail;
  boundary: RedactionBoundary;
  targets: TargetResolver;
  wakeups: Wakeups;
  router: TaskRouter;
  approvals: ApprovalWorkflow;
  sessions: SessionBook;
  /** Starts the sweeper and, on PostgreSQL, the cross-process wake-up channel (idempotent); `stop` ends them. */
  start(log: { error(obj: object, msg: string): void; warn(obj: object, msg: string): void }): void;
  stop(): Promise<void>;
}

export function createMeshServices(opts: {
  store: ControllerDb;
  directory: DirectoryRepository;
  profiles: ProfileCatalog;
  evaluator: PolicyEvaluator;
  dataDir: string;
  settings?: Partial<MeshSettings>;
  metrics?: DecisionMetrics;
}): MeshServices {
  const settings = { ...DEFAULT_MESH_SETTINGS, ...opts.settings };
  const db = opts.store.db;
  const agents = new AgentRepository(db, opts.store.dialect);
  const queue = createTaskQueue(db, opts.store.dialect, { leaseMs: settings.leaseMs, maxAttempts: settings.maxAttempts });
  const audit = new MeshAuditTrail(new AuditRepository(db, opts.store.dialect));
  const boundary = new RedactionBoundary(opts.profiles, TenantKeys.fromDataDir(opts.dataDir).pseudonymizer('mesh'));
  const targets = new TargetResolver(agents, opts.directory, opts.profiles);
  const wakeups = new Wakeups(settings);
  const listen = opts.store.listenClient;
  let channel: PgWakeupChannel | undefined;
  const router = new TaskRouter({ db, agents, directory: opts.directory, evaluator: opts.evaluator, queue, audit, boundary, targets, wakeups, settings, ...(opts.metrics ? { metrics: opts.metrics } : {}) });
  const approvals = new ApprovalWorkflow({ db, directory: opts.directory, agents, queue, router, audit, boundary, targets, wakeups, settings, ...(opts.metrics ? { metrics: opts.metrics } : {}) });
  const sessions = new SessionBook({ db, router, approvals, agents, targets, audit });

  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  return {
    settings, agents, queue, audit, boundary, targets, wakeups, router, approvals, sessions,
    start(log) {
      if (timer) return;
      if (listen && !channel) {
        const { scope } = listen();
        channel = new PgWakeupChannel(() => listen().client, scope, wakeups, log);
        wakeups.attach(channel);
        void channel.start();
      }
      let busy = false;
      // Leases that ran out since the last sweep: their agents' waiters here claim them now,
      // instead of on their next re-check (which is long while wake-ups are announced).
      let leasesCheckedUpTo = Date.now();
      timer = setInterval(() => {
        if (busy) return;
        busy = true;
        running = (async () => {
          try {
            const now = Date.now();
            for (const agentId of await queue.expiredLeaseAgents(leasesCheckedUpTo, now)) wakeups.wakeLocal(agentId);
            leasesCheckedUpTo = now;
            await router.reap();
            await approvals.sweep();
          } catch (err) {
            log.error({ err }, 'mesh sweep failed');
          } finally {
            busy = false;
          }
        })();
      }, settings.sweepMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      wakeups.attach(undefined);
      await channel?.stop();
      channel = undefined;
      await running;
      await audit.flush();
    },
  };
}
