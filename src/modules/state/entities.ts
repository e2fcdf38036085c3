import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { timestamps } from '../../db/columns.ts';

/** One accepted Terraform state, sealed by the vault and bound to (account, resource, version). */
export const StateVersion = defineEntity({
  name: 'StateVersion',
  tableName: 'state_versions',
  properties: {
    id: p.uuid().primary(),
    accountId: p.string(),
    resourceId: p.uuid(),
    version: p.integer(),
    serial: p.bigint('number'),
    lineage: p.string(),
    sha256: p.string(),
    size: p.integer(),
    operationId: p.uuid().nullable(),
    ciphertext: p.blob().lazy(),
    keyId: p.string(),
    ...timestamps,
    createdBy: p.uuid().nullable(),
  },
});
export type StateVersion = InferEntity<typeof StateVersion>;

export const LOCK_HOLDERS = ['worker', 'user'] as const;
/** Part of a lock's identity with its id: a user's request only ever matches a user's lock. */
export type LockHolder = (typeof LOCK_HOLDERS)[number];

/**
 * The state lock of one resource: a lease. A worker's lease is renewed while its terraform runs; a user's lock
 * lasts until unlocked or SKYLOFT_USER_LOCK_TTL. A row past expires_at is free to take.
 */
export const StateLock = defineEntity({
  name: 'StateLock',
  tableName: 'state_locks',
  properties: {
    resourceId: p.uuid().primary(),
    accountId: p.string(),
    lockId: p.string(),
    holder: p.enum([...LOCK_HOLDERS]),
    info: p.json<Record<string, unknown>>(),
    operationId: p.uuid().nullable(),
    expiresAt: p.datetime().columnType('timestamptz'),
    ...timestamps,
    createdBy: p.uuid().nullable(),
  },
});
export type StateLock = InferEntity<typeof StateLock>;
