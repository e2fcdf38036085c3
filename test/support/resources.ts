import { Resource } from '../../src/modules/provisioning/entities.ts';
import { newId } from '../../src/shared/ids.ts';
import type { TestContext } from './context.ts';

/** Inserts a managed resource row directly, for tests of code that needs one to exist. */
export async function insertResource(ctx: TestContext, accountId: string, fields: Partial<Resource> = {}): Promise<Resource> {
  const em = ctx.orm.em.fork();
  const resource = em.create(Resource, {
    id: newId(),
    accountId,
    name: `r-${newId().slice(-8)}`,
    provider: 'sandbox',
    type: 'vm',
    region: 'local',
    credentialId: null,
    networkResourceId: null,
    spec: {},
    status: 'active',
    outputs: {},
    drift: null,
    destroyedAt: null,
    createdBy: null,
    updatedBy: null,
    ...fields,
  });
  await em.flush();
  return resource;
}
