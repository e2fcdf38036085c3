import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { timestamps } from '../../db/columns.ts';

export const HEALTH_STATUSES = ['healthy', 'degraded', 'error'] as const;

export const HealthCheck = defineEntity({
  name: 'HealthCheck',
  tableName: 'health_checks',
  properties: {
    id: p.uuid().primary(),
    accountId: p.string(),
    credentialId: p.uuid(),
    status: p.enum([...HEALTH_STATUSES]),
    responseTimeMs: p.integer().nullable(),
    throttled: p.boolean().default(false),
    errorMessage: p.text().nullable(),
    checkedAt: p.datetime().columnType('timestamptz'),
    ...timestamps,
  },
});
export type HealthCheck = InferEntity<typeof HealthCheck>;
