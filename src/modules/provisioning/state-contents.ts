/**
 * Whether a stored Terraform state holds nothing a destroy would have to remove: no state at all, or no managed
 * resource with an instance (data sources are only read, never created). The state is tenant data: anything that does
 * not parse as a state answers false, and terraform, which validates it, decides.
 */
export function holdsNoResources(state: Buffer | null): boolean {
  if (state === null) return true;
  let parsed: unknown;
  try {
    parsed = JSON.parse(state.toString('utf8'));
  } catch {
    return false;
  }
  const resources = (parsed as { resources?: unknown } | null)?.resources;
  if (!Array.isArray(resources)) return false;
  return resources.every((r: unknown) => {
    if (typeof r !== 'object' || r === null) return false;
    const { mode, instances } = r as { mode?: unknown; instances?: unknown };
    return mode === 'data' || (Array.isArray(instances) && instances.length === 0);
  });
}
