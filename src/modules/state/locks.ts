import type { Em } from '../../db/orm.ts';
import type { Actor } from '../../shared/actor.ts';
import { AppError } from '../../shared/errors.ts';
import { recordAudit } from '../audit/index.ts';
import { StateLock, type LockHolder } from './entities.ts';

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
  holder: LockHolder;
  info: Record<string, unknown>;
  ttlMs: number;
  operationId?: string | null;
  userId?: string | null;
}

/**
 * Takes the lock if it is free, expired, or already held under the same identity (re-entrant: a retried LOCK or a
 * lease renewal). A lock's identity is its holder kind and account as well as its id: every 423 shows the holder's id,
 * so a user presenting a worker's id must not take over the worker's lease. One statement, so two racing takers
 * cannot both win.
 */
export async function acquireLock(em: Em, req: LockRequest): Promise<void> {
  const rows = await em.getConnection().execute<{ lock_id: string }[]>(
    `insert into state_locks (resource_id, account_id, lock_id, holder, info, operation_id, expires_at, created_by)
     values (?, ?, ?, ?, ?, ?, now() + (? * interval '1 millisecond'), ?)
     on conflict (resource_id) do update set
       lock_id = excluded.lock_id, holder = excluded.holder, info = excluded.info, operation_id = excluded.operation_id,
       expires_at = excluded.expires_at, created_by = excluded.created_by, created_at = now(), updated_at = now()
     where state_locks.expires_at <= now()
        or (state_locks.lock_id = excluded.lock_id and state_locks.holder = excluded.holder and state_locks.account_id = excluded.account_id)
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

/**
 * Extends a worker's lease; false when the lease was lost (expired and taken, or force-unlocked). Only a worker's
 * lock is a lease: a user who took the expired lock under the worker's id does not get it renewed.
 */
export async function renewLease(em: Em, resourceId: string, lockId: string, ttlMs: number): Promise<boolean> {
  const res = await em.getConnection().execute(
    `update state_locks set expires_at = now() + (? * interval '1 millisecond'), updated_at = now()
     where resource_id = ? and lock_id = ? and holder = 'worker' and expires_at > now()`,
    [ttlMs, resourceId, lockId],
    'run',
  );
  return (res as unknown as { affectedRows: number }).affectedRows > 0;
}

/**
 * Releases the lock `holder` holds under `lockId`: a user's UNLOCK passes 'user' and so never releases a worker's
 * lease, whatever id it presents (423 with the holder instead). Releasing a lock that is already gone is not an error.
 */
export async function releaseLock(em: Em, resourceId: string, lockId: string, holder: LockHolder): Promise<void> {
  const deleted = await em.nativeDelete(StateLock, { resourceId, lockId, holder });
  if (deleted > 0) return;
  const current = await currentLock(em, resourceId);
  if (current) throw new StateLockedError(current.info);
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
 * Fencing for state writes: with a lock, it must be the live lock, same id and same holder kind (a user's POST
 * ?ID=<a worker's id> is not the worker's); without one, nobody may hold the lock (terraform run with -lock=false).
 * Call inside the write's transaction, after locking the resource row.
 */
export async function assertMayWrite(em: Em, resourceId: string, lock: { lockId: string; holder: LockHolder } | undefined): Promise<StateLock | null> {
  const current = await currentLock(em, resourceId);
  if (lock) {
    if (current?.lockId === lock.lockId && current.holder === lock.holder) return current;
    if (current) throw new StateLockedError(current.info);
    throw new StaleLockError(lock.lockId);
  }
  if (current) throw new StateLockedError(current.info);
  return null;
}
