import type { Em } from '../../db/orm.ts';
import { NotFoundError } from '../../shared/errors.ts';
import { isUuid } from '../../shared/ids.ts';
import { Resource, UNMANAGED_STATUSES } from './entities.ts';

/** A resource of the caller's account; anything else (another account's, malformed, unknown) is 404. */
export async function resourceOf(em: Em, accountId: string, id: string): Promise<Resource> {
  const resource = isUuid(id) ? await em.findOne(Resource, { id, accountId }) : null;
  if (!resource) throw new NotFoundError('Resource', id);
  return resource;
}

/** The resources a credential still manages (neither destroyed nor forgotten): none, or it may not be deleted. */
export const liveResourcesOf = (tx: Em, credentialId: string): Promise<number> =>
  tx.count(Resource, { credentialId, status: { $nin: [...UNMANAGED_STATUSES] } });
