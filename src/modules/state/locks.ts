import type { Em } from '../../db/orm.ts';
import type { Actor } from '../../shared/actor.ts';
import { AppError } from '../../shared/errors.ts';
import { recordAudit } from '../audit/service.ts';
import { StateLock } from './entities.ts';

/** 423 with the holder's lock JSON as the body: what terraform's http backend expects. */
export class StateLockedError extends AppError {
  readonly holderInfo: Record<string, unknown>;

  constructor(holderInfo: Record<string, unknown>) {
    super('state_locked', 423, 'The state is locked by another holder', { details: holderInfo });
    this.holderInfo = holderInfo;
  }
}

/** A write or unlock carrying a lock id that no longer holds the lock (its lease expired and was taken over). */
export class StaleLockError extends AppError {
  constructor(lockId: string) {
    super('stale_lock', 409, `Lock ${lockId} does not hold this state (its lease expired or it was force-unlocked)`);
  }
}

export interface LockRequest {
  resourceId: string;
  accountId: string;
  lockId: string;
  holder: 'worker' | 'user';
  info: Record<string, unknown>;
  ttlMs: number;
  operationId?: string | null;
  userId?: string | null;
}

/**
 * Takes the lock if it is free, expired, or already held under the same lock id (re-entrant: a retried LOCK or a
 * lease renewal). One statement, so two racing takers cannot both win.
 */
export async function acquireLock(em: Em, req: LockRequest): Promise<void> {
  const rows = await em.getConnection().execute<{ lock_id: string }[]>(
    `insert into state_locks (resource_id, account_id, lock_id, holder, info, operation_id, expires_at, created_by)
     values (?, ?, ?, ?, ?, ?, now() + (? * interval '1 millisecond'), ?)
     on conflict (resource_id) do update set
       lock_id = excluded.lock_id, holder = excluded.holder, info = excluded.info, operation_id = excluded.operation_id,
       expires_at = excluded.expires_at, created_by = excluded.created_by, created_at = now(), updated_at = now()
     where state_locks.expires_at <= now() or state_locks.lock_id = excluded.lock_id
     returning lock_id`,
    [req.resourceId, req.accountId, req.lockId, req.holder, JSON.stringify(req.info), req.operationId ?? null, req.ttlMs, req.userId ?? null],
    'all',
    em.getTransactionContext(),
  );
  if (rows.length > 0) return;
  const holder = await currentLock(em, req.resourceId);
  // The holder can release between our insert and this read: then simply try once more.
  if (!holder) return acquireLock(em, req);
  throw new StateLockedError(holder.info);
}

/** The live lock of a resource, or null when there is none or it has expired. */
export async function currentLock(em: Em, resourceId: string): Promise<StateLock | null> {
  return em.findOne(StateLock, { resourceId, expiresAt: { $gt: new Date() } }, { refresh: true });
}

/** Extends a worker's lease; false when the lease was lost (expired and taken, or force-unlocked). */
export async function renewLease(em: Em, resourceId: string, lockId: string, ttlMs: number): Promise<boolean> {
  const res = await em.getConnection().execute(
    `update state_locks set expires_at = now() + (? * interval '1 millisecond'), updated_at = now()
     where resource_id = ? and lock_id = ? and expires_at > now()`,
    [ttlMs, resourceId, lockId],
    'run',
  );
  return (res as unknown as { affectedRows: number }).affectedRows > 0;
}

/** Releases the lock held under `lockId`. Releasing a lock that is already gone is not an error. */
export async function releaseLock(em: Em, resourceId: string, lockId: string): Promise<void> {
  const deleted = await em.nativeDelete(StateLock, { resourceId, lockId });
  if (deleted > 0) return;
  const holder = await currentLock(em, resourceId);
  if (holder) throw new StateLockedError(holder.info);
}

/** Removes whatever lock a resource has, and audits it. */
export async function forceUnlock(em: Em, actor: Actor, resourceId: string): Promise<StateLock | null> {
  return em.transactional(async (tx) => {
    const lock = await tx.findOne(StateLock, { resourceId });
    if (!lock) return null;
    const before = { lockId: lock.lockId, holder: lock.holder, operationId: lock.operationId, info: lock.info, expiresAt: lock.expiresAt };
    tx.remove(lock);
    recordAudit(tx, actor, { action: 'state.force_unlock', entityType: 'resource', entityId: resourceId, before });
    return lock;
  });
}

/**
 * Fencing for state writes: with a lock id, it must be the live holder's; without one, nobody may hold the lock
 * (terraform run with -lock=false). Call inside the write's transaction, after locking the resource row.
 */
export async function assertMayWrite(em: Em, resourceId: string, lockId: string | undefined): Promise<StateLock | null> {
  const holder = await currentLock(em, resourceId);
  if (lockId) {
    if (holder?.lockId === lockId) return holder;
    if (holder) throw new StateLockedError(holder.info);
    throw new StaleLockError(lockId);
  }
  if (holder) throw new StateLockedError(holder.info);
  return null;
}
