import type { Em } from '../../db/orm.ts';
import { Operation, Resource } from './entities.ts';

/**
 * Records the final failure of an operation that did not settle itself (its last attempt failed on a retryable
 * error, or its job stalled too often); an operation already settled is left as it is.
 */
export async function recordOperationFailure(em: Em, operationId: string, error: string): Promise<void> {
  await em.nativeUpdate(Operation, { id: operationId, status: { $in: ['queued', 'running'] } }, { status: 'failed', step: 'done', error, finishedAt: new Date() });
}

/**
 * An operation's job handed back at shutdown gives back the attempt counted when it was set running
 * (run-operation.ts), so a stop costs the operation nothing. Called before the job leaves its worker: no other
 * worker can have counted a new attempt yet.
 */
export async function giveBackAttempt(em: Em, operationId: string): Promise<void> {
  await em.getConnection().execute("update operations set attempts = attempts - 1 where id = ? and status = 'running' and attempts > 0", [operationId]);
}

/** An operation's job payload, as the reconciler re-enqueues it. */
export interface OperationJob {
  operationId: string;
  resourceId: string;
  accountId: string;
  phase: 'plan' | 'apply';
}

/**
 * Operations that should have a job and may have lost it: queued for `olderThanMs` (accepted while Redis was down,
 * or lost with a Redis that kept nothing), or running with no live lease for twice that (the worker died).
 */
export async function strandedOperations(em: Em, olderThanMs: number): Promise<OperationJob[]> {
  const rows = await em.getConnection().execute<{ id: string; account_id: string; resource_id: string; step: string }[]>(
    `select o.id, o.account_id, o.resource_id, o.step from operations o
      where (o.status = 'queued' and o.updated_at < now() - (? * interval '1 millisecond'))
         or (o.status = 'running' and o.updated_at < now() - (? * 2 * interval '1 millisecond')
             and not exists (select 1 from state_locks l where l.operation_id = o.id and l.expires_at > now()))
      order by o.id limit 1000`,
    [olderThanMs, olderThanMs],
  );
  return rows.map((row) => ({ operationId: row.id, resourceId: row.resource_id, accountId: row.account_id, phase: row.step === 'plan' ? 'plan' : 'apply' }));
}

/**
 * An operation whose job BullMQ failed after its workers died under it too often: worth another attempt while it
 * has attempts left ('retry'), else it ends failed with the reason, its resource too ('failed'). 'gone': no such row.
 */
export async function settleStalledOperation(em: Em, operationId: string, maxAttempts: number, reason: string): Promise<'retry' | 'failed' | 'gone'> {
  const op = await em.findOne(Operation, { id: operationId });
  if (!op) return 'gone';
  if (op.attempts < maxAttempts) return 'retry';
  Object.assign(op, { status: 'failed', step: 'done', finishedAt: new Date(), error: `Its worker stopped ${op.attempts} times while running it (${reason}); the last saved state is kept: request the change again` });
  const resource = await em.findOne(Resource, { id: op.resourceId, accountId: op.accountId });
  if (resource) resource.status = 'failed';
  await em.flush();
  return 'failed';
}
