/**
 * Org-wide Cedar rules that hold for every role, next to the rules generated from role profiles.
 * `forbid` always beats `permit`; with no `permit` matching, the answer is deny.
 */
export interface NamedPolicy {
  id: string;
  reason: string;
  cedar: string;
}

export const basePolicies: readonly NamedPolicy[] = [
  {
    id: 'base.admin',
    reason: 'admins may perform any action no rule forbids',
    cedar: 'permit (principal in Role::"admin", action, resource);',
  },
  {
    id: 'base.hard-budget',
    reason: 'the budget is exhausted (hard limit reached); only local models may be called',
    cedar: `forbid (principal, action == Action::"model.call", resource)
      when { context.budgetState == "hard" }
      unless { resource has tier && resource.tier == "local" };`,
  },
  {
    id: 'base.department-data',
    reason: "data belonging to another department may not be read or exported",
    cedar: `forbid (principal, action in [Action::"data.read", Action::"data.export"], resource)
      when { resource has department && (!(principal has department) || principal.department != resource.department) }
      unless { principal in Role::"admin" };`,
  },
  {
    id: 'base.mesh-collaboration',
    reason: 'any role may send tasks, approval requests and notifications to another role through the agent mesh',
    cedar: 'permit (principal, action in [Action::"task.send", Action::"approval.request", Action::"notify.send"], resource is MeshRole);',
  },
];
