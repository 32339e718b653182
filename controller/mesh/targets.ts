/**
 * Resolves a mesh target — an agent id, a person id or a role — to the agents that can take
 * the work and the roles whose guard policy applies. Agent ids win over person ids, which win
 * over roles, so a name is never ambiguous.
 */
import type { AgentRepository, Agent, AgentWithBacklog } from '../agents/repository.js';
import type { DirectoryRepository } from '../directory/repository.js';
import type { ProfileCatalog } from '../profiles/catalog.js';

export interface ResolvedTarget {
  kind: 'agent' | 'person' | 'role';
  id: string;
  agents: Agent[];
  /** Persons (for approvals): the person itself, or the role's members. */
  persons: string[];
}

export class UnknownTargetError extends Error {
  override name = 'UnknownTargetError';
}

export class TargetResolver {
  constructor(
    private readonly agents: AgentRepository,
    private readonly directory: DirectoryRepository,
    private readonly profiles: ProfileCatalog,
  ) {}

  async resolve(target: string): Promise<ResolvedTarget> {
    const agent = await this.agents.get(target);
    if (agent) return { kind: 'agent', id: target, agents: [agent], persons: [agent.person] };
    const node = await this.directory.get(target);
    if (node?.kind === 'person') return { kind: 'person', id: target, agents: await this.agents.byPerson(target), persons: [target] };
    if (node?.kind === 'role' || this.profiles.get(target)) {
      const [agents, persons] = await Promise.all([this.agents.byRole(target), this.directory.membersOfRole(target)]);
      return { kind: 'role', id: target, agents, persons };
    }
    throw unknownTarget(target);
  }

  /**
   * The router's resolution: the same precedence as `resolve`, with each agent's backlog and
   * without the role's members, in one statement (the directory node comes from its cache).
   */
  async resolveForRouting(target: string): Promise<{ kind: ResolvedTarget['kind']; id: string; agents: AgentWithBacklog[] }> {
    const [matches, node] = await Promise.all([this.agents.byNameWithBacklog(target), this.directory.get(target)]);
    const agent = matches.find((a) => a.agentId === target);
    if (agent) return { kind: 'agent', id: target, agents: [agent] };
    if (node?.kind === 'person') return { kind: 'person', id: target, agents: matches.filter((a) => a.person === target) };
    if (node?.kind === 'role' || this.profiles.get(target)) return { kind: 'role', id: target, agents: matches.filter((a) => a.role === target) };
    throw unknownTarget(target);
  }

  /** Roles whose guard policy applies to what a person sees (their directory roles, or the role of their agent). */
  async rolesOfPerson(person: string): Promise<string[]> {
    const node = await this.directory.get(person);
    if (node && node.roles.length) return node.roles;
    const agents = await this.agents.byPerson(person);
    return [...new Set(agents.map((a) => a.role))];
  }
}

function unknownTarget(target: string): UnknownTargetError {
  return new UnknownTargetError(`"${target}" is not a registered agent id, a person in the directory, or a role; pass a role name (e.g. "finance"), a person id or an agent id`);
}
