import type { CloudInput, OpenedCloud } from '../toolbox.ts';
import type { SandboxAccount, SandboxLedger, Scope } from '../ports.ts';
import { dayOf, sandboxBilled, sandboxCostPages } from './cost.ts';
import { SANDBOX_KINDS, sandboxItems } from './world.ts';

/**
 * The sandbox provider: a whole cloud to tour with no cloud account (issue 19, item 17). Its resources are
 * `terraform_data` objects that live in Terraform state, which Skyloft keeps: the ledger reads them (only the
 * credential's own account), and inventory lists them as terraform applied them, beside objects Skyloft does not
 * manage and orphans (world.ts), one of its vms resized behind Skyloft's back (drift); cost bills every object for
 * every day it existed, today included, at rates derived from its id and the day (cost.ts). Nothing is random and
 * nothing is paid for: the same day always costs the same. Always healthy.
 */
export function openSandbox(input: CloudInput, ledger: SandboxLedger | undefined): OpenedCloud {
  if (!ledger) throw new Error('The sandbox adapter needs the ledger of what Skyloft provisioned (CloudDeps.sandbox)');
  // Read once per opened cloud (one job), when first needed.
  let account: Promise<SandboxAccount> | undefined;
  const read = () => (account ??= ledger.read(input.credentialId));
  return {
    inventory: {
      scopes: async (): Promise<Scope[]> => Object.values(SANDBOX_KINDS).map((kind) => ({ region: 'global', kind })),
      async *list(scope: Scope) {
        const items = sandboxItems(input.credentialId, await read()).filter((i) => SANDBOX_KINDS[i.type] === scope.kind);
        if (items.length > 0) yield items;
      },
    },
    health: { probe: async () => {} },
    cost: {
      async *collect(range) {
        const today = dayOf(new Date());
        yield* sandboxCostPages(sandboxBilled(input.credentialId, await read(), today), range, today);
      },
    },
  };
}
