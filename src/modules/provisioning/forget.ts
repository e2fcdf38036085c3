import { LockMode } from '@mikro-orm/core';
import type { Em } from '../../db/orm.ts';
import { retryOnDeadlock } from '../../db/deadlocks.ts';
import { lockRows } from '../../db/row-locks.ts';
import type { Actor } from '../../shared/actor.ts';
import { ConflictError, UnprocessableError } from '../../shared/errors.ts';
import { recordAudit } from '../audit/index.ts';
import { currentLock } from '../state/index.ts';
import { Operation, Resource } from './entities.ts';
import { resourceOf } from './resources.ts';
import { resourceView } from './views.ts';

/**
 * DELETE /v1/resources/:id?forget=true (admin): Skyloft stops managing the resource without touching the cloud, like
 * `terraform state rm`; the way out for a resource that can never apply, or whose destroy fails at the same step.
 * The row, its operations and its state versions stay (readable by id); the name is free again; its credential no
 * longer counts it (the credential may be deleted); quotas no longer count it; inventory items tagged with it become
 * `unmanaged` and its drift is no longer tracked (null).
 *
 * Operations: queued or awaiting approval ones never touched the cloud and are canceled with it (a worker that picks
 * one up finds it canceled). A running one is refused (409 naming it): terraform is changing the cloud right now, and
 * forgetting mid-change would leave nobody knowing what it made; cancel it, wait for it to end, then forget. A state
 * lock held by a user's terraform is refused the same way (a worker's lease outlives its finished operation by the
 * moment it takes to release it, and is no reason to refuse). Forgetting again answers the forgotten resource and
 * records nothing; a destroyed resource has nothing left to forget (422).
 */
export async function forgetResource(em: Em, actor: Actor, id: string): Promise<Resource> {
  const current = await resourceOf(em, actor.accountId, id);
  // A cancel locks the operation, then the resource: the reverse order of this one, so a deadlock is possible.
  return retryOnDeadlock(() => em.transactional(async (tx) => {
    await lockRows(tx, 'resources', 'id', current.id);
    const resource = await tx.findOneOrFail(Resource, { id: current.id }, { refresh: true });
    if (resource.status === 'forgotten') return resource;
    if (resource.status === 'destroyed') throw new UnprocessableError(`Resource ${id} is destroyed: there is nothing left to forget`);
    // Locked: a worker claiming one of them (queued to running) waits for this transaction, then finds it canceled.
    const unfinished = await tx.find(
      Operation,
      { resourceId: resource.id, status: { $in: ['queued', 'running', 'awaiting_approval'] } },
      { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
    );
    const running = unfinished.find((op) => op.status === 'running');
    if (running) {
      throw new ConflictError(
        `Operation ${running.id} is running terraform on this resource; cancel it (POST /v1/operations/${running.id}/cancel), ` +
          'wait until it has ended, then forget the resource',
        { operationId: running.id },
      );
    }
    const lock = await currentLock(tx, resource.id);
    if (lock?.holder === 'user') {
      throw new ConflictError(
        `The resource's state is locked by a user's terraform (lock ${lock.lockId}, ${String(lock.info.Who ?? 'who is not said')}); ` +
          `unlock it (DELETE /v1/resources/${resource.id}/lock) or wait for its holder, then forget the resource`,
        { lock: lock.info },
      );
    }
    const now = new Date();
    for (const op of unfinished) {
      const canceled = { status: 'canceled', step: 'done', cancelRequestedAt: now, finishedAt: now, updatedBy: actor.userId } as const;
      Object.assign(op, canceled, { error: 'canceled: the resource was forgotten' });
    }
    const before = resourceView(resource);
    Object.assign(resource, { status: 'forgotten', forgottenAt: now, drift: null, updatedBy: actor.userId });
    recordAudit(tx, actor, {
      action: 'resource.forget',
      entityType: 'resource',
      entityId: resource.id,
      before,
      after: { ...resourceView(resource), canceledOperations: unfinished.map((o) => o.id) },
    });
    return resource;
  }));
}
