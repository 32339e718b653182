/** Registered mesh agents: who they work for, their role, skills, load, locale and last sign of life. */
import { sql, type Kysely } from 'kysely';
import type { ControllerTables } from '../storage/schema.js';
import type { ControllerDialect } from '../storage/database.js';
import type { MeshAgentRow } from '../mesh/schema.js';
import type { AgentView } from '../../mesh/contracts.js';
import { OPEN_DELIVERY_STATES } from '../tasks/queue.js';
import '../mesh/schema.js';

/** An agent with the deliveries queued or leased to it right now (the router's load signal). */
export interface AgentWithBacklog extends Agent {
  backlog: number;
}

export interface Agent {
  agentId: string;
  owner: string;
  person: string;
  role: string;
  skills: string[];
  load: number;
  capacity: number;
  locale: string | null;
  lastSeen: number;
}

/** The agent id is taken by another token subject. */
export class AgentOwnershipError extends Error {
  override name = 'AgentOwnershipError';
}

export class AgentRepository {
  constructor(
    private readonly db: Kysely<ControllerTables>,
    private readonly dialect: ControllerDialect = 'sqlite',
  ) {}

  async register(a: Omit<Agent, 'lastSeen'>, now = Date.now()): Promise<Agent> {
    const row: MeshAgentRow = {
      agent_id: a.agentId,
      owner: a.owner,
      person: a.person,
      role: a.role,
      skills: JSON.stringify(a.skills),
      load: a.load,
      capacity: a.capacity,
      locale: a.locale,
      last_seen: now,
      registered_at: now,
    };
    await this.db.insertInto('mesh_agents').values(row).onConflict((oc) => oc.column('agent_id').doNothing()).execute();
    const { registered_at: _r, agent_id: _a, owner: _o, ...update } = row;
    const res = await this.db.updateTable('mesh_agents').set(update).where('agent_id', '=', a.agentId).where('owner', '=', a.owner).executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) throw new AgentOwnershipError(`agent id "${a.agentId}" is registered by another identity; pick another agent id`);
    return { ...a, lastSeen: now };
  }

  /**
   * Records a sign of life (heartbeat or work poll). A poll only writes when the stored time is
   * older than `staleMs` (100 agents polling must not turn into 100 commits a second); a
   * heartbeat with a load always writes. Returns whether a row was written (false: no such agent
   * of this owner, or a poll's stored time was still fresh).
   */
  async touch(agentId: string, owner: string, load: number | undefined, now = Date.now(), staleMs = 0): Promise<boolean> {
    let q = this.db
      .updateTable('mesh_agents')
      .set(load === undefined ? { last_seen: now } : { last_seen: now, load })
      .where('agent_id', '=', agentId)
      .where('owner', '=', owner);
    if (load === undefined && staleMs > 0) q = q.where('last_seen', '<', Math.floor(now - staleMs));
    const res = await q.executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  /**
   * A work poll's start: the agent's owner (undefined: no such agent), and a sign of life written
   * when the agent is the caller's and its stored time is older than `staleMs` (as `touch`). On
   * PostgreSQL one statement (the write's CTE runs whatever the read returns; the read sees the
   * owner as before the write, which the write does not change); on SQLite a read, then the write.
   */
  async ownerWithTouch(agentId: string, owner: string, now: number, staleMs: number): Promise<string | undefined> {
    if (this.dialect === 'postgres') {
      const r = await sql<{ owner: string }>`
        WITH touched AS (
          UPDATE mesh_agents SET last_seen = ${now} WHERE agent_id = ${agentId} AND owner = ${owner} AND last_seen < ${Math.floor(now - staleMs)} RETURNING 1)
        SELECT owner FROM mesh_agents WHERE agent_id = ${agentId}`.execute(this.db);
      return r.rows[0]?.owner;
    }
    const a = await this.get(agentId);
    if (a?.owner === owner) await this.touch(agentId, owner, undefined, now, staleMs);
    return a?.owner;
  }

  async get(agentId: string): Promise<Agent | undefined> {
    const row = await this.db.selectFrom('mesh_agents').selectAll().where('agent_id', '=', agentId).executeTakeFirst();
    return row ? toAgent(row) : undefined;
  }

  async byRole(role: string): Promise<Agent[]> {
    return (await this.db.selectFrom('mesh_agents').selectAll().where('role', '=', role).orderBy('agent_id').execute()).map(toAgent);
  }

  async byPerson(person: string): Promise<Agent[]> {
    return (await this.db.selectFrom('mesh_agents').selectAll().where('person', '=', person).orderBy('agent_id').execute()).map(toAgent);
  }

  /** Several agents by id in one query. */
  async getMany(agentIds: readonly string[]): Promise<Map<string, Agent>> {
    const ids = [...new Set(agentIds)];
    if (ids.length === 0) return new Map();
    if (ids.length === 1) {
      const a = await this.get(ids[0]!);
      return new Map(a ? [[a.agentId, a]] : []);
    }
    const rows = await this.db.selectFrom('mesh_agents').selectAll().where('agent_id', 'in', ids).execute();
    return new Map(rows.map((r) => [r.agent_id, toAgent(r)]));
  }

  /** The agents of several persons in one query. */
  async byPersons(persons: readonly string[]): Promise<Agent[]> {
    if (persons.length === 0) return [];
    const out: Agent[] = [];
    for (let i = 0; i < persons.length; i += 500) {
      const rows = await this.db.selectFrom('mesh_agents').selectAll().where('person', 'in', persons.slice(i, i + 500)).orderBy('agent_id').execute();
      out.push(...rows.map(toAgent));
    }
    return out;
  }

  /**
   * The agents whose id, person or role is `name`, each with its backlog: what the router needs
   * to resolve a target and rank its agents, in one statement (it was three round trips: the
   * agent id, the role's agents, their backlogs). The caller tells the three kinds of match apart.
   */
  async byNameWithBacklog(name: string): Promise<AgentWithBacklog[]> {
    const rows = await this.db
      .selectFrom('mesh_agents as a')
      .selectAll('a')
      .select((eb) =>
        eb
          .selectFrom('mesh_deliveries as d')
          .select(eb.fn.countAll<number | string>().as('n'))
          .whereRef('d.agent_id', '=', 'a.agent_id')
          .where('d.state', 'in', OPEN_DELIVERY_STATES)
          .as('backlog'),
      )
      .where((eb) => eb.or([eb('a.agent_id', '=', name), eb('a.person', '=', name), eb('a.role', '=', name)]))
      .orderBy('a.agent_id')
      .execute();
    return rows.map((r) => ({ ...toAgent(r), backlog: Number(r.backlog ?? 0) }));
  }

  async byOwner(owner: string): Promise<Agent[]> {
    return (await this.db.selectFrom('mesh_agents').selectAll().where('owner', '=', owner).orderBy('last_seen', 'desc').execute()).map(toAgent);
  }

  async all(limit = 1000): Promise<Agent[]> {
    return (await this.db.selectFrom('mesh_agents').selectAll().orderBy('agent_id').limit(limit).execute()).map(toAgent);
  }
}

export function agentView(a: Agent, offlineAfterMs: number, now = Date.now()): AgentView {
  return {
    agentId: a.agentId,
    person: a.person,
    role: a.role,
    skills: a.skills,
    load: a.load,
    capacity: a.capacity,
    locale: a.locale,
    online: now - a.lastSeen <= offlineAfterMs,
    lastSeenAt: new Date(a.lastSeen).toISOString(),
  };
}

/** An agent from its stored row. */
export function toAgent(r: MeshAgentRow): Agent {
  return {
    agentId: r.agent_id,
    owner: r.owner,
    person: r.person,
    role: r.role,
    skills: JSON.parse(r.skills) as string[],
    load: Number(r.load),
    capacity: Number(r.capacity),
    locale: r.locale,
    lastSeen: Number(r.last_seen),
  };
}
