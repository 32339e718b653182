/**
 * Goose extensions as a role's policy sees them — the contract the controller (serves the
 * allowlist), the installer (writes Goose's config) and the gateway (enforces it) all speak.
 *
 * Goose names every tool `<extension key>__<tool>` (goose-integration.md §2.3, §4.1), so the key
 * is what a role's `extensions.allow` lists. Switchboard's own two MCP servers are always allowed:
 * without them the mesh and the privacy guard could not work at all.
 */

export interface SwitchboardExtension {
  /** Key in Goose's `extensions:` map and the tool-name prefix. */
  key: string;
  description: string;
  /** Arguments after the `switchboard` executable. */
  args: string[];
}

export const AGENT_MESH_EXTENSION: SwitchboardExtension = {
  key: 'agent_mesh',
  description: 'Switchboard Agent Mesh: send tasks to other agents, request approvals, notify, fetch status',
  args: ['mesh', 'mcp'],
};

export const PRIVACY_GUARD_EXTENSION: SwitchboardExtension = {
  key: 'privacy_guard',
  description: 'Switchboard Privacy Guard: detect and mask secrets and PII before sharing text',
  args: ['guard', 'mcp'],
};

export const SWITCHBOARD_EXTENSIONS: readonly SwitchboardExtension[] = [AGENT_MESH_EXTENSION, PRIVACY_GUARD_EXTENSION];

/** Goose-internal tools that are not an extension a role chooses (the smart-approve permission judge). */
const ALWAYS_ALLOWED = new Set(['platform', ...SWITCHBOARD_EXTENSIONS.map((e) => e.key)]);

/** Goose normalises extension keys: lower-case, whitespace removed, other non [A-Za-z0-9_-] → `_`. */
export function normaliseExtensionKey(name: string): string {
  return name.toLowerCase().replace(/\s+/g, '').replace(/[^a-z0-9_-]/g, '_');
}

/** The extension a Goose tool name belongs to, or undefined for a tool that is not `<ext>__<tool>`. */
export function extensionOfTool(toolName: string): string | undefined {
  const at = toolName.indexOf('__');
  return at > 0 ? toolName.slice(0, at) : undefined;
}

export interface ExtensionAllowlist {
  /** Extension keys the role may use (Switchboard's own always included). */
  readonly allowed: ReadonlySet<string>;
  allows(extension: string): boolean;
}

/** From a policy's `extensions.allow` list. */
export function extensionAllowlist(allow: readonly string[]): ExtensionAllowlist {
  const allowed = new Set([...ALWAYS_ALLOWED, ...allow.map(normaliseExtensionKey)]);
  return { allowed, allows: (extension) => allowed.has(normaliseExtensionKey(extension)) };
}

/**
 * The allowlist file Goose desktop fetches from GOOSE_ALLOWLIST: `extensions: [{id, command}]`,
 * matched as a prefix of an extension's command line on deep-link installs. Goose's built-in
 * extensions run as `goose mcp <name>`; Switchboard's as `switchboard <args>`.
 */
export function gooseAllowlistEntries(allow: readonly string[]): Array<{ id: string; command: string }> {
  const ours = SWITCHBOARD_EXTENSIONS.map((e) => ({ id: e.key, command: ['switchboard', ...e.args].join(' ') }));
  const role = [...new Set(allow.map(normaliseExtensionKey))].filter((k) => !ours.some((o) => o.id === k)).map((k) => ({ id: k, command: `goose mcp ${k}` }));
  return [...ours, ...role];
}
