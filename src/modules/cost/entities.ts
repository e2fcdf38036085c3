import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { timestamps } from '../../db/columns.ts';

export const COST_RUN_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export const COST_TRIGGERS = ['backfill', 'scheduled', 'manual'] as const;

/** One cost collection of one credential over [rangeFrom, rangeTo). */
export const CostRun = defineEntity({
  name: 'CostRun',
  tableName: 'cost_runs',
  properties: {
    id: p.uuid().primary(),
    accountId: p.string(),
    credentialId: p.uuid(),
    trigger: p.enum([...COST_TRIGGERS]),
    status: p.enum([...COST_RUN_STATUSES]),
    rangeFrom: p.string().columnType('date'),
    rangeTo: p.string().columnType('date'),
    daysFetched: p.integer().default(0),
    lines: p.integer().default(0),
    paidRequests: p.integer().default(0),
    notices: p.json<string[]>(),
    error: p.text().nullable(),
    startedAt: p.datetime().columnType('timestamptz').nullable(),
    finishedAt: p.datetime().columnType('timestamptz').nullable(),
    ...timestamps,
    createdBy: p.uuid().nullable(),
  },
});
export type CostRun = InferEntity<typeof CostRun>;
