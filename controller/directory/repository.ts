/** Reads and writes the directory graph (nodes + manager/role edges) through the shared query layer. */
import type { Kysely } from 'kysely';
import type { ControllerTables, DirectoryNodeRow } from '../storage/schema.js';
import type { AttributeValue, DirectoryNode, PersonFacts } from './types.js';

/** Guards against a corrupted graph (a cycle) turning a chain walk into an endless loop. */
const MAX_CHAIN = 64;

export interface DirectoryRepositoryOptions {
  /**
   * How old a node read (`get`, and the chains built from it) may be when it is reused, in ms;
   * 0 = never reused. Routing and approvals read the sender's facts and the target on every
   * request; the graph changes only on import. Writes through this repository clear the cache at
   * once; a write by another controller process on the same database is seen after at most this
   * long (in practice within `min(cacheMs / 2, 1 s)`: see `get`). Access decisions (sign-in,
   * renewal, enrolment, token refresh) use getFresh and never wait for it.
   */
  cacheMs?: number;
}

interface CachedNode {
  at: number;
  node: Promise<DirectoryNode | undefined>;
}

/** At most this long between two checks of the directory's version while the cache is in use. */
const MAX_VERSION_CHECK_MS = 1_000;

export class DirectoryRepository {
  private readonly cacheMs: number;
  private readonly nodes = new Map<string, CachedNode>();
  /** The directory's version (table `directory_version`) the cached nodes belong to; undefined before the first check. */
  private knownVersion: string | undefined;
  /** When the check that first saw `knownVersion` answered: nodes read after it are of that version or later. */
  private versionSeenAt = Number.POSITIVE_INFINITY;
  /** When the latest check that found `knownVersion` unchanged started. */
  private verifiedAt = 0;
  private lastCheckAt = Number.NEGATIVE_INFINITY;
  private checking = false;

  constructor(
    private readonly db: Kysely<ControllerTables>,
    opts: DirectoryRepositoryOptions = {},
  ) {
    this.cacheMs = opts.cacheMs ?? 0;
  }

  /**
   * Inserts or replaces nodes and their edges in one transaction. A node's manager and role
   * edges are replaced by the ones given, so re-importing a file is idempotent.
   */
  async upsert(nodes: readonly DirectoryNode[], now = Date.now()): Promise<{ created: number; updated: number }> {
    if (nodes.length === 0) return { created: 0, updated: 0 };
    this.clearCache();
    return this.db.transaction().execute(async (trx) => {
      const ids = nodes.map((n) => n.id);
      const existing = new Set<string>();
      for (let i = 0; i < ids.length; i += 500) {
        const rows = await trx.selectFrom('directory_nodes').select('id').where('id', 'in', ids.slice(i, i + 500)).execute();
        for (const r of rows) existing.add(r.id);
      }
      for (const n of nodes) {
        const row = {
          kind: n.kind,
          name: n.name,
          parent_id: n.parentId,
          email: n.email,
          attributes: JSON.stringify(n.attributes),
          updated_at: now,
        };
        if (existing.has(n.id)) await trx.updateTable('directory_nodes').set(row).where('id', '=', n.id).execute();
        else await trx.insertInto('directory_nodes').values({ id: n.id, created_at: now, ...row }).execute();
        await trx.deleteFrom('directory_edges').where('from_id', '=', n.id).execute();
        const edges = [
          ...(n.managerId ? [{ from_id: n.id, kind: 'manager' as const, to_id: n.managerId }] : []),
          ...n.roles.map((r) => ({ from_id: n.id, kind: 'role' as const, to_id: r })),
        ];
        if (edges.length > 0) await trx.insertInto('directory_edges').values(edges).execute();
      }
      // Other processes' node caches see this write by the version (see `get`).
      await trx.updateTable('directory_version').set((eb) => ({ version: eb('version', '+', 1) })).where('id', '=', 1).execute();
      return { created: nodes.length - existing.size, updated: existing.size };
    }).finally(() => this.clearCache());
  }

  /**
   * A node, from the cache while it is at most `cacheMs` old. A node's age is not counted from its
   * read but from the last moment the directory is known not to have changed since: every
   * directory write moves one version row, which `get` checks in the background at most every
   * `min(cacheMs / 2, 1 s)` (one statement per process, instead of re-reading every node in use).
   * An unchanged version vouches for the nodes read after the version was first seen; a changed
   * one empties the cache. If the checks fail, nodes expire `cacheMs` after their read, as before.
   */
  async get(id: string): Promise<DirectoryNode | undefined> {
    if (this.cacheMs <= 0) return this.load(id);
    const now = Date.now();
    this.checkVersion(now);
    const hit = this.nodes.get(id);
    if (hit && now - this.freshAsOf(hit) < this.cacheMs) return hit.node;
    if (this.nodes.size > 10_000) this.clearCache();
    const node = this.load(id);
    this.nodes.set(id, { at: now, node });
    // A failed read is not remembered.
    node.catch(() => this.nodes.delete(id));
    return node;
  }

  /**
   * The time a cached node is known to be current as of. A node read after the check that first
   * saw the current version answered reflects that version or a later one (its read started
   * later); a later check that still sees that version shows nothing changed up to its own start.
   */
  private freshAsOf(hit: CachedNode): number {
    return hit.at >= this.versionSeenAt ? Math.max(hit.at, this.verifiedAt) : hit.at;
  }

  private checkVersion(now: number): void {
    if (this.checking || now - this.lastCheckAt < Math.min(this.cacheMs / 2, MAX_VERSION_CHECK_MS)) return;
    this.checking = true;
    this.lastCheckAt = now;
    this.db
      .selectFrom('directory_version')
      .select('version')
      .where('id', '=', 1)
      .executeTakeFirst()
      .then(
        (row) => {
          const version = row === undefined ? 'none' : String(row.version);
          if (version === this.knownVersion) {
            this.verifiedAt = now;
          } else {
            // Nodes read before the first check are not vouched for (they expire cacheMs after their read); after a change, none are.
            if (this.knownVersion !== undefined) this.clearCache();
            this.knownVersion = version;
            this.versionSeenAt = Date.now();
            this.verifiedAt = 0;
          }
        },
        () => {
          // Best effort: without checks, nodes expire cacheMs after their read.
        },
      )
      .finally(() => {
        this.checking = false;
      });
  }

  private clearCache(): void {
    this.nodes.clear();
  }

  /**
   * A read that skips the cache (and refreshes it): sign-in, renewal, enrolment and token refresh
   * decide access, so a person removed from the directory is refused at once, not after cacheMs.
   */
  async getFresh(id: string): Promise<DirectoryNode | undefined> {
    const node = this.load(id);
    if (this.cacheMs > 0) {
      this.nodes.set(id, { at: Date.now(), node });
      node.catch(() => this.nodes.delete(id));
    }
    return node;
  }

  /** The node with its edges in one statement (one row per edge, or one with null edge columns). */
  private async load(id: string): Promise<DirectoryNode | undefined> {
    const rows = await this.db
      .selectFrom('directory_nodes as n')
      .leftJoin('directory_edges as e', 'e.from_id', 'n.id')
      .select(['n.id', 'n.kind', 'n.name', 'n.parent_id', 'n.email', 'n.attributes', 'n.created_at', 'n.updated_at', 'e.kind as edge_kind', 'e.to_id as edge_to'])
      .where('n.id', '=', id)
      .execute();
    const first = rows[0];
    if (!first) return undefined;
    const edges: Array<{ kind: string; to_id: string }> = [];
    for (const r of rows) if (r.edge_kind !== null && r.edge_to !== null) edges.push({ kind: r.edge_kind, to_id: r.edge_to });
    return toNode(first, edges);
  }

  /** The person with this e-mail address (case-insensitive), for OIDC sign-in. */
  async findPersonByEmail(email: string): Promise<DirectoryNode | undefined> {
    const row = await this.db
      .selectFrom('directory_nodes')
      .select('id')
      .where('kind', '=', 'person')
      .where((eb) => eb(eb.fn('lower', ['email']), '=', email.toLowerCase()))
      .executeTakeFirst();
    return row ? this.getFresh(row.id) : undefined;
  }

  /** Ids that exist, out of the ones asked for (used by the importer to check references). */
  async existing(ids: readonly string[]): Promise<Map<string, DirectoryNode['kind']>> {
    const out = new Map<string, DirectoryNode['kind']>();
    for (let i = 0; i < ids.length; i += 500) {
      const rows = await this.db.selectFrom('directory_nodes').select(['id', 'kind']).where('id', 'in', ids.slice(i, i + 500)).execute();
      for (const r of rows) out.set(r.id, r.kind);
    }
    return out;
  }

  /** Manager, manager's manager, … up to the top; empty when the person has no manager. */
  async managerChain(personId: string): Promise<DirectoryNode[]> {
    const chain: DirectoryNode[] = [];
    const seen = new Set<string>([personId]);
    let current = personId;
    for (let i = 0; i < MAX_CHAIN; i++) {
      const managerId = (await this.get(current))?.managerId;
      if (!managerId || seen.has(managerId)) break;
      const manager = await this.get(managerId);
      if (!manager) break;
      chain.push(manager);
      seen.add(manager.id);
      current = manager.id;
    }
    return chain;
  }

  /** Containing nodes from the direct parent up to the org. */
  async ancestors(id: string): Promise<DirectoryNode[]> {
    const out: DirectoryNode[] = [];
    const seen = new Set<string>([id]);
    let node = await this.get(id);
    for (let i = 0; node?.parentId && i < MAX_CHAIN; i++) {
      if (seen.has(node.parentId)) break;
      node = await this.get(node.parentId);
      if (!node) break;
      seen.add(node.id);
      out.push(node);
    }
    return out;
  }

  async personFacts(personId: string, opts: { fresh?: boolean } = {}): Promise<PersonFacts | undefined> {
    const person = await (opts.fresh ? this.getFresh(personId) : this.get(personId));
    if (!person || person.kind !== 'person') return undefined;
    const up = await this.ancestors(personId);
    const nearest = (kind: DirectoryNode['kind']) => up.find((n) => n.kind === kind)?.id ?? null;
    return {
      id: person.id,
      roles: person.roles,
      department: nearest('department'),
      team: nearest('team'),
      org: nearest('org'),
      managerId: person.managerId,
      attributes: person.attributes,
    };
  }

  /** Person ids holding a role, sorted (approver resolution by role). */
  async membersOfRole(role: string): Promise<string[]> {
    const rows = await this.db.selectFrom('directory_edges').select('from_id').where('kind', '=', 'role').where('to_id', '=', role).orderBy('from_id').execute();
    return rows.map((r) => r.from_id);
  }

  async count(): Promise<number> {
    const r = await this.db.selectFrom('directory_nodes').select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow();
    return Number(r.n);
  }
}

function toNode(row: DirectoryNodeRow, edges: ReadonlyArray<{ kind: string; to_id: string }>): DirectoryNode {
  return {
    id: row.id,
    kind: row.kind,
    name: row.name,
    parentId: row.parent_id,
    email: row.email,
    attributes: JSON.parse(row.attributes) as Record<string, AttributeValue>,
    managerId: edges.find((e) => e.kind === 'manager')?.to_id ?? null,
    roles: edges.filter((e) => e.kind === 'role').map((e) => e.to_id).sort(),
  };
}
