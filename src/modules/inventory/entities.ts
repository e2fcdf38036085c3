import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { timestamps } from '../../db/columns.ts';

export const SYNC_STATUSES = ['running', 'succeeded', 'partial', 'failed'] as const;

/** One sync of one credential: the scopes it listed and what changed. */
export const SyncRun = defineEntity({
  name: 'SyncRun',
  tableName: 'sync_runs',
  properties: {
    id: p.uuid().primary(),
    accountId: p.string(),
    credentialId: p.uuid(),
    status: p.enum([...SYNC_STATUSES]),
    scopesTotal: p.integer().default(0),
    scopesDone: p.integer().default(0),
    added: p.integer().default(0),
    updated: p.integer().default(0),
    deleted: p.integer().default(0),
    errors: p.json<{ region: string; kind: string; error: string }[]>(),
    startedAt: p.datetime().columnType('timestamptz'),
    finishedAt: p.datetime().columnType('timestamptz').nullable(),
    ...timestamps,
    createdBy: p.uuid().nullable(),
  },
});
export type SyncRun = InferEntity<typeof SyncRun>;

/** One (region, kind) of a run. Only a `succeeded` scope may tombstone what it did not see. */
export const SyncScope = defineEntity({
  name: 'SyncScope',
  tableName: 'sync_scopes',
  properties: {
    runId: p.uuid().primary(),
    region: p.string().primary(),
    kind: p.string().primary(),
    credentialId: p.uuid(),
    status: p.enum(['pending', 'succeeded', 'failed']),
    items: p.integer().default(0),
    error: p.text().nullable(),
    finishedAt: p.datetime().columnType('timestamptz').nullable(),
    ...timestamps,
  },
});
export type SyncScope = InferEntity<typeof SyncScope>;
