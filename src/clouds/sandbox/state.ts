import type { SandboxObject } from '../ports.ts';

/** More objects than any sandbox stack makes (one each): a state written by hand is read this far, no further. */
const MAX_OBJECTS = 100;
const MAX_ID_LENGTH = 128;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The `terraform_data` objects of a Terraform state (format version 4): each managed instance's `id` and the value of
 * its `input` (terraform stores a dynamic value as `{value, type}`). A state is tenant data (anyone with the resource's
 * key may write one through the http backend), so anything not of that shape is skipped, never trusted.
 */
export function terraformDataObjects(state: unknown): SandboxObject[] {
  const resources = isObject(state) && Array.isArray(state.resources) ? state.resources : [];
  const objects: SandboxObject[] = [];
  for (const r of resources) {
    if (!isObject(r) || r.mode !== 'managed' || r.type !== 'terraform_data' || !Array.isArray(r.instances)) continue;
    for (const instance of r.instances) {
      const attributes = isObject(instance) && isObject(instance.attributes) ? instance.attributes : undefined;
      const id = attributes?.id;
      if (typeof id !== 'string' || id === '' || id.length > MAX_ID_LENGTH) continue;
      const input = isObject(attributes!.input) && isObject(attributes!.input.value) ? attributes!.input.value : {};
      objects.push({ id, input });
      if (objects.length === MAX_OBJECTS) return objects;
    }
  }
  return objects;
}
