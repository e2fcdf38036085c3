import { defineEntity, p, type InferEntity } from '@mikro-orm/core';
import { timestamps } from '../../db/columns.ts';
import { ROLE_NAMES } from '../accounts/index.ts';

/**
 * A signed-in browser (the queue dashboard, and /v1 through its cookie). The cookie holds a random token; only its
 * SHA-256 hash is stored. Made from an account's API key (account, user, key and role set) or from an installation
 * key (only installationKeyId set): the database checks it is exactly one of the two (migration 0011).
 */
export const DashboardSession = defineEntity({
  name: 'DashboardSession',
  tableName: 'dashboard_sessions',
  properties: {
    id: p.uuid().primary(),
    tokenHash: p.string(),
    accountId: p.string().nullable(),
    userId: p.uuid().nullable(),
    apiKeyId: p.uuid().nullable(),
    /** The role at sign-in; each request uses the lower of this and what the key and user hold now. */
    role: p.enum([...ROLE_NAMES]).nullable(),
    installationKeyId: p.uuid().nullable(),
    expiresAt: p.datetime().columnType('timestamptz'),
    lastSeenAt: p.datetime().columnType('timestamptz'),
    ...timestamps,
  },
});
export type DashboardSession = InferEntity<typeof DashboardSession>;
