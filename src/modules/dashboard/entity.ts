import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { timestamps } from '../../db/columns.ts';
import { ROLE_NAMES } from '../accounts/entities.ts';

/** A signed-in browser of /admin/queues. The cookie holds a random token; only its SHA-256 hash is stored. */
export const DashboardSession = defineEntity({
  name: 'DashboardSession',
  tableName: 'dashboard_sessions',
  properties: {
    id: p.uuid().primary(),
    tokenHash: p.string(),
    accountId: p.string(),
    userId: p.uuid(),
    apiKeyId: p.uuid(),
    /** The role at sign-in; each request uses the lower of this and what the key and user hold now. */
    role: p.enum([...ROLE_NAMES]),
    expiresAt: p.datetime().columnType('timestamptz'),
    lastSeenAt: p.datetime().columnType('timestamptz'),
    ...timestamps,
  },
});
export type DashboardSession = InferEntity<typeof DashboardSession>;
