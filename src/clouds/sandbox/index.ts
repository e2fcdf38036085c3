import type { OpenedCloud } from '../index.ts';

/**
 * The sandbox provider has no cloud account behind it: its resources are `terraform_data` objects that live only in
 * Terraform state, which Skyloft already knows exactly. So there is nothing to list (an empty inventory, whose
 * completed scopes mark nothing deleted because nothing was ever listed), nothing that could be unhealthy, and
 * nothing billed.
 */
export function openSandbox(): OpenedCloud {
  return {
    inventory: {
      scopes: async () => [],
      list: async function* () {},
    },
    health: { probe: async () => {} },
    cost: { collect: async function* () {} },
  };
}
