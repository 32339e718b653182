/** The org directory as the API and the importer see it. */
import type { DirectoryNodeKind } from '../storage/schema.js';

export type { DirectoryNodeKind };
export const DIRECTORY_NODE_KINDS: readonly DirectoryNodeKind[] = ['org', 'department', 'team', 'person', 'role'];

export type AttributeValue = string | number | boolean;

export interface DirectoryNode {
  id: string;
  kind: DirectoryNodeKind;
  name: string;
  parentId: string | null;
  email: string | null;
  attributes: Record<string, AttributeValue>;
  /** person only: id of their direct manager. */
  managerId: string | null;
  /** person only: ids of the role nodes they hold. */
  roles: string[];
}

/** A person with everything policy evaluation needs, resolved through the graph. */
export interface PersonFacts {
  id: string;
  /** Role node ids (e.g. "finance"). */
  roles: string[];
  /** Nearest department up the parent chain, if any. */
  department: string | null;
  team: string | null;
  org: string | null;
  managerId: string | null;
  attributes: Record<string, AttributeValue>;
}
