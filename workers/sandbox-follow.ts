import { CostRun } from '../src/modules/cost/index.ts';
import type { Resource } from '../src/modules/provisioning/index.ts';
import type { Runtime } from '../src/deps.ts';

/**
 * The sandbox's inventory and cost follow its operations at once (issue 19, item 17): only Skyloft changes the
 * sandbox, and reading it costs no cloud API call, so a new resource shows as managed, with its drift and its cost,
 * seconds after it is applied rather than at the next scheduled sync (15 minutes) and collection (daily). Best effort:
 * the schedules catch up with anything missed here.
 */
export async function followSandboxOperation(rt: Runtime, resource: Pick<Resource, 'id' | 'provider' | 'accountId' | 'credentialId'>): Promise<void> {
  if (resource.provider !== 'sandbox' || !resource.credentialId) return;
  const credential = { id: resource.credentialId, accountId: resource.accountId };
  const em = rt.orm.em.fork();
  try {
    await rt.sync.startOne(em, credential.accountId, credential.id);
    // A collection still queued reads the sandbox after this operation anyway: one is enough.
    if ((await em.count(CostRun, { credentialId: credential.id, status: 'queued' })) === 0) {
      await rt.cost.start(em, credential, 'scheduled', rt.cost.windowFor('scheduled'));
    }
  } catch (err) {
    rt.log.warn({ err, resourceId: resource.id }, 'could not refresh the sandbox inventory and cost after its operation; the schedules will');
  }
}
