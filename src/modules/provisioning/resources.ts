import type { Em } from '../../db/orm.ts';
import { NotFoundError } from '../../shared/errors.ts';
import { isUuid } from '../../shared/ids.ts';
import { Resource } from './entities.ts';

/** A resource of the caller's account; anything else (another account's, malformed, unknown) is 404. */
export async function resourceOf(em: Em, accountId: string, id: string): Promise<Resource> {
  const resource = isUuid(id) ? await em.findOne(Resource, { id, accountId }) : null;
  if (!resource) throw new NotFoundError('Resource', id);
  return resource;
}
