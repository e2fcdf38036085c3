import type { ApiBudget } from '../src/clouds/budget.ts';
import type { CloudDeps } from '../src/clouds/index.ts';
import { StoredSandboxLedger } from '../src/modules/provisioning/index.ts';
import type { Runtime } from '../src/deps.ts';

/** What every cloud adapter a worker opens is given: the shared API budget, the outbound guard, the sandbox's ledger. */
export function cloudDeps(rt: Runtime, budget: ApiBudget): CloudDeps {
  return { budget, outbound: rt.outbound, sandbox: new StoredSandboxLedger(rt.orm, rt.state) };
}
