import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { timestamps } from '../../db/columns.ts';

export const DEFAULT_SCHEDULE = { inventoryMinutes: 15, healthMinutes: 5, costCron: '0 2 * * *' };

export const AccountSchedule = defineEntity({
  name: 'AccountSchedule',
  tableName: 'account_schedules',
  properties: {
    accountId: p.string().primary(),
    inventoryMinutes: p.integer(),
    healthMinutes: p.integer(),
    costCron: p.string(),
    ...timestamps,
    updatedBy: p.uuid().nullable(),
  },
});
export type AccountSchedule = InferEntity<typeof AccountSchedule>;
