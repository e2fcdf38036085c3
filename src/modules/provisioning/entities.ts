import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { authorship, timestamps } from '../../db/columns.ts';
import { kindIds } from '../../clouds/registry.ts';
import { PROVIDERS } from '../credentials/index.ts';

/** The kinds the registered providers provision (src/clouds/registry.ts): the API's enum. */
export const RESOURCE_TYPES = kindIds();
export const RESOURCE_STATUSES = ['pending', 'provisioning', 'active', 'updating', 'failed', 'destroying', 'destroyed', 'forgotten'] as const;
/**
 * Resources Skyloft no longer manages: destroyed, or forgotten (left in the cloud as they are, like `terraform state
 * rm`). They free their name, keep no credential alive, count against no quota and link no inventory item.
 */
export const UNMANAGED_STATUSES = ['destroyed', 'forgotten'] as const;
export const DRIFT_STATES = ['none', 'drifted', 'missing'] as const;
export const OPERATION_KINDS = ['apply', 'update', 'destroy'] as const;
export const OPERATION_STATUSES = ['queued', 'running', 'awaiting_approval', 'succeeded', 'failed', 'canceled'] as const;
export const OPERATION_STEPS = ['plan', 'approval', 'apply', 'done'] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];

export const Resource = defineEntity({
  name: 'Resource',
  tableName: 'resources',
  properties: {
    id: p.uuid().primary(),
    accountId: p.string(),
    name: p.string(),
    provider: p.enum([...PROVIDERS]),
    type: p.enum([...RESOURCE_TYPES]),
    region: p.string(),
    credentialId: p.uuid().nullable(),
    networkResourceId: p.uuid().nullable(),
    spec: p.json<Record<string, unknown>>(),
    status: p.enum([...RESOURCE_STATUSES]),
    outputs: p.json<Record<string, unknown>>(),
    drift: p.enum([...DRIFT_STATES]).nullable(),
    destroyedAt: p.datetime().columnType('timestamptz').nullable(),
    forgottenAt: p.datetime().columnType('timestamptz').nullable(),
    ...timestamps,
    ...authorship,
  },
});
export type Resource = InferEntity<typeof Resource>;

export const isUnmanaged = (r: Pick<Resource, 'status'>): boolean => (UNMANAGED_STATUSES as readonly string[]).includes(r.status);

/** One requested change of a resource. The row, not the queue, is the source of truth for accepted work. */
export const Operation = defineEntity({
  name: 'Operation',
  tableName: 'operations',
  properties: {
    id: p.uuid().primary(),
    accountId: p.string(),
    resourceId: p.uuid(),
    kind: p.enum([...OPERATION_KINDS]),
    status: p.enum([...OPERATION_STATUSES]),
    step: p.enum([...OPERATION_STEPS]),
    spec: p.json<Record<string, unknown>>(),
    autoApprove: p.boolean(),
    approvedAt: p.datetime().columnType('timestamptz').nullable(),
    approvedBy: p.uuid().nullable(),
    cancelRequestedAt: p.datetime().columnType('timestamptz').nullable(),
    attempts: p.integer().default(0),
    error: p.text().nullable(),
    planSummary: p.json<{ add: number; change: number; destroy: number }>().nullable(),
    log: p.text().lazy(),
    startedAt: p.datetime().columnType('timestamptz').nullable(),
    finishedAt: p.datetime().columnType('timestamptz').nullable(),
    ...timestamps,
    ...authorship,
  },
});
export type Operation = InferEntity<typeof Operation>;

export const IdempotencyKey = defineEntity({
  name: 'IdempotencyKey',
  tableName: 'idempotency_keys',
  properties: {
    accountId: p.string().primary(),
    key: p.string().primary(),
    requestHash: p.string(),
    resourceId: p.uuid(),
    operationId: p.uuid(),
    expiresAt: p.datetime().columnType('timestamptz'),
    ...timestamps,
  },
});
export type IdempotencyKey = InferEntity<typeof IdempotencyKey>;
